"""The HTTP server's life cycle: start, serve, stop — cleanly, every time."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import requests

from qldb_dr.local.server.serve import start


def _hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _inode(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_ino
    except OSError:
        return None


def test_server_shutdown_when_loop_stops_before_its_wakeup_is_written_closes_cleanly() -> None:
    """A worker that has just answered leaves a wake-up byte in the serving loop's pipe, so
    under load the loop can run the stop before shutdown() has written its own byte. That
    schedule is forced here: the write waits until the loop has ended. shutdown must not
    fail (nor write into a closed, perhaps reused, descriptor) and must close the pipe."""
    server = start(_hello)  # type: ignore[arg-type]
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    trigger = server._server.trigger
    pipe = list(trigger._fds)
    inodes = [_inode(fd) for fd in pipe]
    pull = trigger._physical_pull

    def late_pull() -> None:
        serving.join(timeout=5)
        pull()

    with requests.Session() as session:  # keep-alive: the connection is open at shutdown
        assert session.get(f"http://127.0.0.1:{server.port}/", timeout=5).text == "hello"
        trigger.pull_trigger()  # the byte a worker leaves when it has answered
        trigger._physical_pull = late_pull
        server.shutdown()
    assert not serving.is_alive()
    assert all(_inode(fd) != inode for fd, inode in zip(pipe, inodes, strict=True))


def test_server_serves_with_more_than_1024_descriptors_open() -> None:
    """Each ledger keeps SQLite descriptors per thread: a busy endpoint passes select()'s limit
    of 1024 descriptors. The serving loop must go on answering (it polls)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        raise AssertionError(f"this machine allows {hard} descriptors; the test needs 1,400")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    server = start(_hello)
    try:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        answer = requests.get(f"http://127.0.0.1:{server.port}/", timeout=5)
        assert answer.status_code == 200 and answer.text == "hello"
    finally:
        server.shutdown()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

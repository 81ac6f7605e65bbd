"""Run the local endpoint on 127.0.0.1 until Ctrl-C or SIGTERM.

The HTTP server is waitress: HTTP/1.1 keep-alive (botocore reuses connections; werkzeug's
development server closes every connection and idles 10 ms after each request) and a pool
of worker threads, so sessions of many clients are served side by side.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from qldb_dr.local.server.app import WsgiApp

THREADS = 16


class Server:
    """A started server; `port` is the bound port (0 asked for a free one)."""

    def __init__(self, app: WsgiApp, port: int = 0, threads: int = THREADS) -> None:
        self._server: Any = create_server(
            app,
            host="127.0.0.1",
            port=port,
            threads=threads,
            channel_timeout=900,
            connection_limit=1000,
            clear_untrusted_proxy_headers=True,
            # poll(), not select(): select() refuses descriptors past 1024, and every ledger
            # holds a few per thread (SQLite and its WAL) — with a few dozen ledgers the serving
            # loop died on its first select() and every request hung.
            asyncore_use_poll=True,
        )
        self.port: int = int(self._server.effective_port)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        try:
            self._server.run()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving, in an order that never touches a closed descriptor.

        1. From inside the serving loop, close every connection and the listening socket,
           and take the wake-up pipe out of the loop, which then ends with nothing left.
           The listening socket is closed as a plain dispatcher: waitress's own close()
           also closes the wake-up pipe, and the loop may run this thunk before our
           pull_trigger() has written its byte (a byte a worker wrote earlier wakes it),
           which made that write hit a closed — or reused — descriptor.
        2. Stop the worker threads, which pull the trigger when they finish a request.
        3. Only then close the wake-up pipe, once. If the loop did not end in time the pipe
           is left open: a leak is harmless, a write into a reused descriptor is not."""
        connections = self._server._map
        trigger = self._server.trigger
        listener = self._server

        def close_all() -> None:
            for channel in list(connections.values()):
                if channel is listener:
                    wasyncore.dispatcher.close(channel)
                elif channel is not trigger:
                    channel.close()
            trigger.del_channel()

        trigger.pull_trigger(close_all)
        stopped = self._stopped.wait(timeout=10)
        self._server.task_dispatcher.shutdown()
        if stopped:
            trigger.close()


def start(app: WsgiApp, port: int = 0) -> Server:
    """A server bound to 127.0.0.1; call serve_forever() to serve."""
    return Server(app, port)


def run_until_stopped(server: Server, on_ready: Callable[[], None], on_stop: Callable[[], None]) -> None:
    """Serve on a thread until SIGTERM or SIGINT, then stop the server and call on_stop.
    on_ready runs once the endpoint answers and the signals are handled: it may call the
    endpoint itself (deploying onto it) before announcing it."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    serving = threading.Thread(target=server.serve_forever, name="endpoint", daemon=True)
    serving.start()
    try:
        on_ready()
        while not stopping.wait(timeout=0.2):
            if not serving.is_alive():
                raise RuntimeError("the endpoint's serving loop ended unexpectedly; see the log above")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.shutdown()
        serving.join(timeout=30)
        on_stop()

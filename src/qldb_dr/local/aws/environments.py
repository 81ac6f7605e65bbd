"""Execution environments for the local Lambda: each function's handlers run in worker processes.

As on AWS Lambda, a function has its own environments (processes), each running one
invocation at a time and reused warm (the handler's module is imported once per process);
more are started while invocations overlap, up to the function's concurrency (its reserved
concurrency, else `QLDB_DR_LOCAL_LAMBDA_CONCURRENCY`, default 4), and invocations beyond it
wait for one to come free. A run past the function's Timeout kills its process
(`Sandbox.Timedout`); a process that dies (os._exit, a signal, SystemExit) fails only its own
invocation (`Runtime.ExitError`). A change of the function's configuration or code retires its
environments: the next invocation starts fresh ones. An environment whose resident memory passes
the function's MemorySize is killed, and its invocation fails with `Runtime.OutOfMemory`, as
Lambda does (Linux, read from /proc; each REPORT line says the environment's Max Memory Used). Each
worker is named after its handler's module (`ps`, /proc/<pid>/comm), so a function's processes
can be told apart.

Written by hand because the stdlib pools cannot do it: `concurrent.futures.ProcessPoolExecutor`
and `multiprocessing.Pool` cannot kill one running task, and a worker that dies breaks the
whole executor (BrokenProcessPool). Processes come from multiprocessing's *forkserver*: the
endpoint is threaded and must not fork itself, spawning a fresh interpreter per environment
costs ~0.5 s of imports, while the fork server (one clean single-threaded process) preloads
the endpoint's main module and boto3 once and forks each environment from that. A worker
dies with the endpoint: it watches a pipe only the endpoint writes (EOF when it is gone), and
on Linux also asks for SIGKILL when its parent, the fork server — which exits when the
endpoint does — dies (PR_SET_PDEATHSIG; it fires when the forking *thread* exits, which is
why it is safe from the fork server's one thread and would not be from the endpoint's).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from qldb_dr.local.aws.handler import Invocation, LambdaContext, resolve_handler, run_handler

CONCURRENCY_ENV = "QLDB_DR_LOCAL_LAMBDA_CONCURRENCY"
DEFAULT_CONCURRENCY = 4
INIT_SECONDS = 60.0  # how long a new environment may take to import its handler (Lambda's init phase)
MEMORY_POLL_SECONDS = 0.05  # how often a busy environment's resident memory is checked
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


@dataclass(frozen=True, slots=True)
class Request:
    """One invocation, as sent to a worker: what `handler.run_handler` needs, and the environment
    the function's process has (the endpoint's own, then Lambda's variables and the function's)."""

    handler: str
    event: Any
    context: dict[str, Any]  # LambdaContext's fields
    environment: dict[str, str]


# -- the worker's side --------------------------------------------------------------------------


def _die_with_parent(alive: Connection) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            alive.recv_bytes()  # the endpoint never writes: this returns only with EOF
        os._exit(1)

    threading.Thread(target=watch, name="endpoint-watch", daemon=True).start()


def process_name(handler: str) -> str:
    """The name a function's workers go by: its handler's module (\"tasks.verify_restore.handler\"
    -> \"verify_restore\"), cut to the 15 bytes Linux keeps."""
    parts = handler.split(".")
    return (parts[-2] if len(parts) > 1 else parts[0])[:15]


def _peak_mb() -> int:
    """This process's peak resident memory (ru_maxrss: kilobytes on Linux), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def memory_mb(pid: int, measure: str = "VmRSS") -> int | None:
    """A process's memory from /proc/<pid>/status, in MB: resident now (VmRSS) or at its peak
    (VmHWM); None where /proc cannot say."""
    try:
        with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
            line = next((line for line in status if line.startswith(f"{measure}:")), None)
    except OSError:
        return None
    return None if line is None else int(line.split()[1]) // 1024


def serve(conn: Connection, alive: Connection, handler: str) -> None:
    """A worker process's main: import the handler once (Lambda's init), then run one
    invocation at a time until the endpoint closes the connection."""
    _die_with_parent(alive)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, process_name(handler).encode(), 0, 0, 0)
    with contextlib.suppress(Exception):  # reported by each invocation, as Lambda reports an init error
        resolve_handler(handler)
    conn.send("ready")
    while True:
        try:
            request: Request = conn.recv()
        except (EOFError, OSError):
            return
        if dict(os.environ) != request.environment:  # the function's process environment, as on AWS
            os.environ.clear()
            os.environ.update(request.environment)
        done = run_handler(request.handler, request.event, LambdaContext(**request.context), {}, _peak_mb)
        conn.send(done)


# -- the endpoint's side ------------------------------------------------------------------------


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is None:  # a script: the fork server runs it once, as each child's main module
        preload = ["__main__"]
    else:
        # `python -m <module>`: each child runs that module again as its main (multiprocessing's
        # rule). Preloading the module itself would make that run warn ("found in sys.modules");
        # the project's modules it imported are preloaded instead, so the run finds them imported.
        package = spec.name.partition(".")[0]
        preload = sorted(m for m in sys.modules if m.partition(".")[0] == package and m != spec.name)
    ctx.set_forkserver_preload([*preload, "boto3", __name__])
    return ctx


class _Shared:
    """The fork server's context and the pipe whose EOF tells workers the endpoint is gone."""

    def __init__(self) -> None:
        self.ctx = _context()
        self.alive_r, self.alive_w = self.ctx.Pipe(duplex=False)


_shared: list[_Shared] = []  # made on the first environment's start
_shared_lock = threading.Lock()


def _get_shared() -> _Shared:
    with _shared_lock:
        if not _shared:
            _shared.append(_Shared())
            atexit.register(shutdown)
        return _shared[0]


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(error_type: str, message: str, request_id: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []})


def _exit_reason(exitcode: int | None) -> str:
    """How Lambda words a runtime process's end: "exit status 3", "signal: segmentation fault"."""
    if exitcode is None:
        return "signal: killed"
    if exitcode < 0:
        try:
            name = signal.strsignal(-exitcode) or f"signal {-exitcode}"
        except ValueError:
            name = f"signal {-exitcode}"
        return f"signal: {name.lower()}"
    return f"exit status {exitcode}"


def _log(request: Request, elapsed: float, status: str = "") -> str:
    request_id, context = request.context["aws_request_id"], request.context
    return (
        f"START RequestId: {request_id} Version: {context['function_version']}\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {elapsed * 1000:.2f} ms\t"
        f"Memory Size: {context['memory_limit_in_mb']} MB" + (f"\tStatus: {status}" if status else "")
    )


class Worker:
    """One execution environment: a process and the connection to it."""

    def __init__(self, handler: str) -> None:
        shared = _get_shared()
        self.conn, child = shared.ctx.Pipe(duplex=True)
        self.process = shared.ctx.Process(
            target=serve, args=(child, shared.alive_r, handler), name=f"lambda:{handler}", daemon=True
        )
        self.process.start()
        child.close()
        self.idle_since = time.monotonic()
        if not self.conn.poll(INIT_SECONDS) or self._recv_ready() != "ready":
            self.stop()
            raise RuntimeError(f"the execution environment for {handler} did not start")

    def _recv_ready(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def run(self, request: Request, timeout: float) -> tuple[Invocation, bool]:
        """The invocation's outcome, and whether this environment can be reused."""
        request_id = str(request.context["aws_request_id"])
        limit = int(request.context["memory_limit_in_mb"])
        started = time.monotonic()
        deadline = started + timeout
        try:
            self.conn.send(request)
            while (left := deadline - time.monotonic()) > 0:
                if self.conn.poll(min(left, MEMORY_POLL_SECONDS)):
                    outcome: Invocation = self.conn.recv()
                    return outcome, True
                used = None if self.pid is None else memory_mb(self.pid)
                if used is not None and used > limit:
                    return self._out_of_memory(request, started, used), False
        except (EOFError, OSError):  # the process ended: os._exit, a signal, SystemExit
            self.process.join(timeout=5)
            reason = _exit_reason(self.process.exitcode)
            message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
            log = _log(request, time.monotonic() - started, "error")
            return Invocation(_error("Runtime.ExitError", message, request_id), True, log), False
        self.kill()  # over its Timeout: Lambda stops the environment
        message = f"{_stamp()} {request_id} Task timed out after {timeout:.2f} seconds"
        log = _log(request, time.monotonic() - started, "timeout")
        return Invocation(_error("Sandbox.Timedout", message, request_id), True, log), False

    def _out_of_memory(self, request: Request, started: float, used: int) -> Invocation:
        """Past its MemorySize: Lambda stops the environment and says so."""
        self.kill()
        request_id = str(request.context["aws_request_id"])
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        log = _log(request, time.monotonic() - started, "error") + f"\tMax Memory Used: {used} MB"
        log += "\tError Type: Runtime.OutOfMemory"
        return Invocation(_error("Runtime.OutOfMemory", message, request_id), True, log)

    def stop(self) -> None:
        self.conn.close()  # the worker reads EOF and returns
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.kill()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


@dataclass
class Function:
    """The execution environments of one function version."""

    handler: str
    fingerprint: Hashable
    concurrency: int
    idle: list[Worker] = field(default_factory=list)
    started: int = 0  # environments alive, idle or busy
    retired: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _acquire(self) -> Worker | None:
        """An idle environment, or None when the caller may start one; waits at the cap."""
        with self.changed:
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive():
                        return worker
                    self.started -= 1  # died while idle: forget it
                if self.started < max(1, self.concurrency):
                    self.started += 1
                    return None
                self.changed.wait()

    def _release(self, worker: Worker | None, reusable: bool) -> None:
        with self.changed:
            if worker is not None and reusable and not self.retired:
                worker.idle_since = time.monotonic()
                self.idle.append(worker)
                worker = None
            else:
                self.started -= 1
            self.changed.notify()
        if worker is not None:
            worker.stop()

    def invoke(self, request: Request, timeout: float) -> Invocation:
        worker = self._acquire()
        reusable = False
        try:
            if worker is None:
                try:
                    worker = Worker(self.handler)
                except RuntimeError as exc:
                    request_id = str(request.context["aws_request_id"])
                    message = f"RequestId: {request_id} Error: {exc}"
                    return Invocation(
                        _error("Runtime.ExitError", message, request_id), True, _log(request, 0.0, "error")
                    )
            outcome, reusable = worker.run(request, timeout)
            return outcome
        finally:
            self._release(worker, reusable)

    def retire(self) -> None:
        """Stop the idle environments now, the busy ones when their invocation ends."""
        with self.changed:
            self.retired = True
            idle, self.idle = self.idle, []
            self.started -= len(idle)
        for worker in idle:
            worker.stop()

    def pids(self) -> list[int]:
        with self.changed:
            return [w.pid for w in self.idle if w.pid is not None]


_functions: dict[tuple[str, ...], Function] = {}
_functions_lock = threading.Lock()


def invoke(
    key: tuple[str, ...], fingerprint: Hashable, concurrency: int, request: Request, timeout: float
) -> Invocation:
    """Run `request` in one of the environments of function `key` (account, region, name,
    version); a new `fingerprint` (its configuration and code) retires the old ones."""
    with _functions_lock:
        function = _functions.get(key)
        stale = function is not None and function.fingerprint != fingerprint
        if function is None or stale:
            old, function = function, Function(request.handler, fingerprint, concurrency)
            _functions[key] = function
        function.concurrency = concurrency
    if stale and old is not None:
        old.retire()
    return function.invoke(request, timeout)


def retire(matches: Callable[[tuple[str, ...]], bool]) -> None:
    """Retire the environments of every function whose key matches (deleted, or moto reset)."""
    with _functions_lock:
        keys = [k for k in _functions if matches(k)]
        gone = [_functions.pop(k) for k in keys]
    for function in gone:
        function.retire()


def shutdown() -> None:
    """Stop every environment (the endpoint is stopping)."""
    retire(lambda key: True)


def worker_pids() -> dict[tuple[str, ...], list[int]]:
    """The idle environments' process ids, by function (for tests and diagnostics)."""
    with _functions_lock:
        functions = dict(_functions)
    return {k: f.pids() for k, f in functions.items()}


def default_concurrency(environment: Mapping[str, str] = os.environ) -> int:
    """The endpoint's per-function cap: QLDB_DR_LOCAL_LAMBDA_CONCURRENCY, else 4."""
    value = environment.get(CONCURRENCY_ENV, "").strip()
    if not value:
        return DEFAULT_CONCURRENCY
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{CONCURRENCY_ENV}={value!r}: give a whole number of processes, 1 or more")
    return int(value)

"""Lambda's runtime side, shared by both ways the local Lambda runs a handler (in a worker
process, environments.py, or in the endpoint's process, lambdas.py): the context object a
Python handler receives, importing the handler from its `Handler` string, and turning what it
returns or raises into Lambda's payload and error names."""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qldb_dr.runtime import invocation_environment

Handler = Callable[[Any, Any], Any]


# -- the function's side: context, handler, payload -------------------------------------------


@dataclass
class LambdaContext:
    """The context object a Python handler receives on AWS Lambda (the fields handlers use)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float
    _deadline: float = field(init=False, repr=False)
    identity: Any = None
    client_context: Any = None

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerLoadError(Exception):
    """The handler string names nothing importable; `error_type` is Lambda's name for it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


_handlers: dict[str, Handler] = {}
_handlers_lock = threading.Lock()


def resolve_handler(spec: str) -> Handler:
    """`package.module.function` or AWS's `package/module.function` → the function."""
    with _handlers_lock:
        cached = _handlers.get(spec)
    if cached is not None:
        return cached
    module_path, _, name = spec.rpartition(".")
    module_name = module_path.replace("/", ".").strip(".")
    if not module_name or not name:
        raise HandlerLoadError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not module.function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerLoadError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    function: Handler | None = getattr(module, name, None)
    if not callable(function):
        raise HandlerLoadError("Runtime.HandlerNotFound", f"Handler '{name}' missing on module '{module_name}'")
    with _handlers_lock:
        _handlers[spec] = function
    return function


def error_payload(
    error_type: str, message: str, exc: BaseException | None = None, request_id: str = ""
) -> dict[str, Any]:
    """The payload of a function error, as the AWS Python runtime writes it."""
    frames = traceback.extract_tb(exc.__traceback__) if exc is not None else []
    own = str(Path(__file__))
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": traceback.format_list([f for f in frames if f.filename != own]),
    }


@dataclass(frozen=True, slots=True)
class Invocation:
    """One finished invocation: the response payload (JSON text) and whether it is an error."""

    payload: str
    errored: bool
    log: str


def run_handler(
    handler_spec: str,
    event: Any,
    context: LambdaContext,
    variables: Mapping[str, str],
    peak_mb: Callable[[], int] | None = None,
) -> Invocation:
    """Call the handler with `variables` as its environment; never raises for the handler's faults.
    `peak_mb`: the execution environment's peak memory, for the REPORT line's Max Memory Used
    (an environment of its own; the in-process mode has none to report)."""
    started = time.monotonic()
    request_id = context.aws_request_id
    errored = True
    try:
        handler = resolve_handler(handler_spec)
        with invocation_environment(variables):
            result = handler(event, context)
        try:
            payload = json.dumps(result)
            errored = False
        except (TypeError, ValueError) as exc:
            message = f"Unable to marshal response: {exc}"
            payload = json.dumps(error_payload("Runtime.MarshalError", message, request_id=request_id))
    except HandlerLoadError as exc:
        payload = json.dumps(error_payload(exc.error_type, str(exc), request_id=request_id))
    except Exception as exc:  # the handler's own failure: Lambda reports it, it does not crash the service
        payload = json.dumps(error_payload(type(exc).__name__, str(exc), exc, request_id))
    elapsed = time.monotonic() - started
    if elapsed > context.timeout_seconds:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = f"{stamp} {context.aws_request_id} Task timed out after {elapsed:.2f} seconds"
        payload, errored = json.dumps(error_payload("Sandbox.Timedout", message, request_id=request_id)), True
    log = (
        f"START RequestId: {context.aws_request_id} Version: {context.function_version}\n"
        f"END RequestId: {context.aws_request_id}\n"
        f"REPORT RequestId: {context.aws_request_id}\tDuration: {elapsed * 1000:.2f} ms\t"
        f"Memory Size: {context.memory_limit_in_mb} MB"
        + (f"\tMax Memory Used: {peak_mb()} MB" if peak_mb is not None else "")
    )
    return Invocation(payload, errored, log)

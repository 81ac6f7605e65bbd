"""Lambda handlers for the local endpoint's tests: importable by name, like tasks/.

They run inside the endpoint (this process under the `aws` fixture), so a test can read
what they recorded.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from qldb_dr.errors import ExportVerificationError, StoreAccessError
from qldb_dr.runtime import environment

calls: Counter[str] = Counter()
_lock = threading.Lock()
barrier: threading.Barrier | None = None  # set by a test to hold invocations side by side


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "function": context.function_name}


def check_item(event: Any, context: Any) -> dict[str, Any]:
    """An item of a Map: fails as a tampered export would when the item says so."""
    if event.get("fail"):
        raise ExportVerificationError(f"item {event['id']}: revision-hashes failed")
    return {"id": event["id"], "ok": True}


def flaky(event: Any, context: Any) -> dict[str, Any]:
    """Fails with StoreAccessError (retryable) `failures` times per key, then succeeds."""
    with _lock:
        calls[event["key"]] += 1
        attempt = calls[event["key"]]
    if attempt <= event["failures"]:
        raise StoreAccessError(f"attempt {attempt}: throttled")
    return {"key": event["key"], "attempts": attempt}


def report_environment(event: Any, context: Any) -> dict[str, Any]:
    """What this invocation sees, read after every concurrent invocation has started."""
    if barrier is not None:
        barrier.wait(timeout=20)
    env = environment()
    return {
        "vault": env.get("VAULT_BUCKET"),
        "function": env.get("AWS_LAMBDA_FUNCTION_NAME"),
        "region": env.get("AWS_REGION"),
        "remainingMillis": context.get_remaining_time_in_millis(),
        "requestId": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "logGroup": context.log_group_name,
        "logStream": context.log_stream_name,
        "version": context.function_version,
    }


def read_object(event: Any, context: Any) -> dict[str, Any]:
    """Once every concurrent invocation has started, read an object from the endpoint's S3."""
    import boto3

    if barrier is not None:
        barrier.wait(timeout=30)
    body = boto3.client("s3").get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    return {"id": event["id"], "size": len(body)}


def not_json(event: Any, context: Any) -> Any:
    return {"when": object()}


def sleep(event: Any, context: Any) -> dict[str, Any]:
    """Sleeps event["seconds"], then says which process ran it and when (monotonic clock)."""
    import os
    import time

    started = time.monotonic()
    time.sleep(float(event.get("seconds", 0)))
    return {"pid": os.getpid(), "started": started, "ended": time.monotonic()}


def crash(event: Any, context: Any) -> dict[str, Any]:
    """Ends its process as a broken handler would: os._exit, a segfault, or SystemExit."""
    import ctypes
    import os
    import sys

    how = event.get("how")
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "system-exit":
        sys.exit(2)
    return {"pid": os.getpid()}


def allocate(event: Any, context: Any) -> dict[str, Any]:
    """Holds event["mb"] megabytes (written, so resident) for event["seconds"], then says which
    process ran it and what its name is."""
    import os
    import time
    from pathlib import Path

    held = bytearray(int(event.get("mb", 0)) * 2**20)
    for offset in range(0, len(held), 4096):
        held[offset] = 1
    time.sleep(float(event.get("seconds", 0)))
    return {"pid": os.getpid(), "held": len(held), "name": Path(f"/proc/{os.getpid()}/comm").read_text().strip()}


def set_process_variable(event: Any, context: Any) -> dict[str, Any]:
    """Sets os.environ[event["name"]] (a handler changing its own process) and reports its pid
    and what its process environment holds."""
    import os

    if event.get("value") is not None:
        os.environ[event["name"]] = event["value"]
    return {"pid": os.getpid(), "value": os.environ.get(event["name"]), "vault": os.environ.get("VAULT_BUCKET")}

"""S3's asynchronous work (replication, event notifications) runs once the request that
caused it is complete, as on AWS.

moto does this work inside the write: its backend's `put_object` sends the notifications
before the request handler has set the new version's metadata, tags and ACL (and before
Object Lock settings of a multipart upload are applied), so a consumer started by the
notification could see a half-written version. Here each S3 request runs in a scope;
work deferred during the request runs when the handler returns, before the response is
sent: replication first, then notifications. Work deferred outside any request (direct
backend calls) runs at once. Failures are logged, never returned to the client: on AWS
this work is asynchronous and cannot fail the write.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Action = Callable[[], object]

# The order in which a request's deferred work runs.
REPLICATION = 0
NOTIFICATION = 1


@dataclass
class Scope:
    """The work one S3 request deferred, and what modules note about the request."""

    queues: tuple[list[tuple[Hashable | None, Action]], ...] = field(default_factory=lambda: ([], []))
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, action: Action, stage: int, key: Hashable | None) -> None:
        queue = self.queues[stage]
        if key is not None:  # a later action with the same key replaces the earlier one
            queue[:] = [(k, a) for k, a in queue if k != key]
        queue.append((key, action))

    def drain(self) -> None:
        while any(self.queues):
            queue = next(q for q in self.queues if q)
            _, action = queue.pop(0)
            run(action)


_local = threading.local()


def current() -> Scope | None:
    """The scope of the S3 request this thread is serving, if any."""
    scope: Scope | None = getattr(_local, "scope", None)
    return scope


def defer(action: Action, stage: int = NOTIFICATION, key: Hashable | None = None) -> None:
    """Run `action` when the current S3 request completes (at once outside a request).
    A later action deferred with the same `key` in the same request replaces this one."""
    scope = current()
    if scope is None:
        run(action)
    else:
        scope.add(action, stage, key)


def run(action: Action) -> None:
    try:
        action()
    except Exception:
        log.exception("asynchronous S3 work failed")


def _scoped(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def handle(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:  # moto's ambiguous dispatch calls one handler from another
            return method(self, *args, **kwargs)
        scope = Scope()
        _local.scope = scope
        try:
            return method(self, *args, **kwargs)
        finally:
            try:
                scope.drain()
            finally:
                _local.scope = None

    return handle


def install() -> None:
    """Wrap moto's S3 request handlers in a scope (idempotent)."""
    from moto.s3.responses import S3Response

    from qldb_dr.local.aws.patching import first_time, original, replace

    if not first_time("s3_async"):
        return
    for name in ("key_response", "bucket_response"):
        replace(S3Response, name, _scoped(original(S3Response, name)))

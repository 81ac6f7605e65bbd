"""Structured logs: one JSON line per event, through aws-lambda-powertools' Logger.

A workflow step's handler is wrapped in `step(name)`: every line it logs carries the step and
what its input names — execution, ledger, restore id, recovery point, partition — and when it
ends one line says how: its outcome, its duration and the counts it returns. Many handlers run
at once in one process on the local endpoint, so the keys are thread-local. The CLI keeps the
logger quiet unless `--debug`; the local endpoint logs its functions' steps to its log.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

# The level is powertools' own: POWERTOOLS_LOG_LEVEL (INFO when unset) in a function's
# environment; the CLI and the local endpoint set theirs (`configure`).
logger = Logger(service="qldb-dr")
# Its lines are JSON on its own handler; the root logger has handlers of its own (Lambda's
# runtime, the endpoint's log) that would write each line again, as plain text.
logging.getLogger(logger.name).propagate = False

Handler = Callable[[Any, Any], Any]

# Where a step's input names what it works on (the first found wins).
_KEYS = {
    "execution": (("execution",), ("executionArn",)),
    "ledger": (("ledgerName",), ("backup", "ledgerName"), ("restore", "sourceLedger"), ("request", "sourceLedger")),
    "restoreId": (("restoreId",), ("restore", "restoreId")),
    "recoveryPointId": (("export", "exportId"), ("request", "recoveryPointId")),
    "targetLedger": (("restore", "targetLedger"), ("request", "targetLedger")),
    "partition": (("item", "partition"),),
    "object": (("item", "key"),),
}


def _find(event: Any, path: tuple[str, ...]) -> Any:
    value = event
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    return value


def context_of(event: Any) -> dict[str, Any]:
    """The keys a step's input names, for its log lines."""
    found: dict[str, Any] = {}
    for key, paths in _KEYS.items():
        value = next((v for v in (_find(event, p) for p in paths) if v is not None), None)
        if value is not None:
            found[key] = value
    return found


def _counts(result: Any) -> dict[str, int]:
    if not isinstance(result, dict):
        return {}
    return {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}


def step(name: str) -> Callable[[Handler], Handler]:
    """Log a workflow step's handler: its context on every line, one line at its end."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            keys = {"step": name, **context_of(event)}
            logger.thread_safe_append_keys(**keys)
            started = time.perf_counter()
            try:
                result = handler(event, context)
            except Exception as exc:
                logger.warning(
                    "step failed",
                    extra={"error": type(exc).__name__, "detail": str(exc)[:500], "durationMs": _since(started)},
                )
                raise
            else:
                logger.info("step done", extra={"durationMs": _since(started), "counts": _counts(result)})
                return result
            finally:
                logger.thread_safe_remove_keys(list(keys))

        run.step = name  # type: ignore[attr-defined]  # the state it logs as (a test holds it to the ASL)
        return run

    return wrap


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def configure(level: str) -> None:
    """The CLI: WARNING (DEBUG with --debug); the local endpoint, whose log is its functions' log: INFO."""
    logger.setLevel(level)

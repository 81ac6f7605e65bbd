"""Step Functions for the local endpoint: what qldb-dr adds to moto's ASL executor.

moto (pinned) vendors LocalStack's ASL interpreter; it runs the project's state machines
but lacks what their retries and waits depend on. Each patch below says what moto lacks;
tests/aws/test_stepfunctions.py fails if a moto upgrade breaks one, and `install()` fails
loudly if an attribute it replaces is gone. Distributed Map Runs are maps.py's.

1. A time scale for Wait states and Retry intervals (`QLDB_DR_LOCAL_TIME_SCALE`, read at
   install, or `set_time_scale()`), so the ASL keeps AWS-valid values (IntervalSeconds ≥ 1,
   real waits) and tests run on a fast clock.
2. An integer ToleratedFailurePercentage (`10`) parses (moto's grammar wants `10.0`).
3. StartExecution without a name gets a UUID (moto names it "None", once).
4. Task states call Lambda in this process (`lambdas.invoke_function`), not over HTTP to
   the endpoint, which deadlocks once a Map's concurrency reaches the HTTP thread pool
   (and creates a boto3 client per call).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from qldb_dr.local.aws.lambdas import invoke_function

log = logging.getLogger(__name__)

TIME_SCALE_ENV = "QLDB_DR_LOCAL_TIME_SCALE"


class _Clock:
    scale = 1.0


_clock = _Clock()


def set_time_scale(scale: float) -> None:
    """Multiply every Wait state and Retry interval by `scale` (1.0: real time)."""
    if not scale > 0:
        raise ValueError(f"time scale must be positive, got {scale}")
    _clock.scale = float(scale)


def time_scale() -> float:
    return _clock.scale


# -- 1. time scale --------------------------------------------------------------------------------


def _scaled_wait(self: Any, env: Any) -> None:
    """Replaces `WaitFunction._eval_body` (Seconds, SecondsPath, Timestamp, TimestampPath)."""
    deadline = time.monotonic() + max(0.0, float(self._get_wait_seconds(env=env))) * _clock.scale
    while env.is_running():  # StopExecution ends the wait early, as in moto
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        env.program_state_event.wait(remaining)


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier, whose only use is
    `time.sleep(interval)` after IntervalSeconds × BackoffRate^n, MaxDelaySeconds, jitter."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(0.0, seconds) * _clock.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# -- 2. integer ToleratedFailurePercentage --------------------------------------------------------


def float_percentages(definition: str) -> str:
    """The definition with every integer ToleratedFailurePercentage written as a float."""
    try:
        document = json.loads(definition)
    except ValueError:
        return definition  # the parser reports it
    changed = False

    def walk(node: Any) -> None:
        nonlocal changed
        if isinstance(node, dict):
            value = node.get("ToleratedFailurePercentage")
            if isinstance(value, int) and not isinstance(value, bool):
                node["ToleratedFailurePercentage"] = float(value)
                changed = True
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(document)
    return json.dumps(document) if changed else definition


def _parse_with_float_percentages(original: Callable[[str], Any]) -> Any:
    def parse(definition: str) -> Any:
        return original(float_percentages(definition))

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(parse)


# -- 3. unnamed executions ------------------------------------------------------------------------


def _start_execution_named(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_execution(
        self: Any, state_machine_arn: str, name: str | None = None, execution_input: Any = None, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, **kwargs)

    start_execution.__wrapped__ = original  # type: ignore[attr-defined]
    return start_execution


# -- 4. Lambda in process -------------------------------------------------------------------------


def _invoke_lambda_in_process(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
    """Replaces `lambda_eval_utils._invoke_lambda_function` (moto: boto3 over HTTP)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    response = invoke_function(
        str(parameters["FunctionName"]),
        parameters.get("Payload"),
        region=region,
        qualifier=parameters.get("Qualifier"),
        invocation_type=str(parameters.get("InvocationType") or "RequestResponse"),
    )
    response["Payload"] = lambda_eval_utils._from_payload(io.BytesIO(response["Payload"]))
    return response


# -- install --------------------------------------------------------------------------------------


def install() -> None:
    """Patch moto's Step Functions executor (idempotent). Reads QLDB_DR_LOCAL_TIME_SCALE once."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser as Parser
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    from qldb_dr.local.aws.patching import first_time, replace

    if not first_time("executor"):
        return
    # moto warns that tolerance fields have no effect (they have: maps.py), and logs every
    # failed state at ERROR with its whole repr, caught or not: the execution history
    # reports failures.
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
    scale = os.environ.get(TIME_SCALE_ENV)
    if scale:
        set_time_scale(float(scale))
    # 1: time scale.
    replace(WaitFunction, "_eval_body", _scaled_wait)
    replace(retrier_decl, "time", _ScaledTime())
    # 2: integer percentages.
    replace(Parser, "parse", _parse_with_float_percentages(Parser.parse))
    # 3: unnamed executions.
    replace(Backend, "start_execution", _start_execution_named(Backend.start_execution))
    # 4: Lambda in process.
    replace(lambda_eval_utils, "_invoke_lambda_function", _invoke_lambda_in_process)

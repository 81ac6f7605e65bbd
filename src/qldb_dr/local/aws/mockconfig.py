"""Step Functions Local's mock configuration file, for the local endpoint's executor.

`StartExecution(stateMachineArn="<arn>#<TestCase>")` runs test case <TestCase> of that
state machine: each state the test case names answers with its mocked responses instead of
calling the service. As in Step Functions Local, mocks apply to optimised integrations
(`arn:aws:states:::lambda:invoke`, `aws-sdk:*`, …), not to Task states whose Resource is a
plain function ARN. The file (Step Functions Local's `MockConfigFile.json` format):

    {"StateMachines": {"<state machine name>": {"TestCases": {"<TestCase>": {"<state>": "<response>"}}}},
     "MockedResponses": {"<response>": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error": "…", "Cause": "…"}}}}}

Keys of a mocked response are attempt numbers (the state's RetryCount) or ranges "1-2".
The path comes from `set_mock_config()` or else `SFN_MOCK_CONFIG` (Step Functions Local's
variable), and the file is read at each StartExecution.

moto vendors the engine (moto/stepfunctions/parser/mocking) without the loading:
`load_mock_test_case_for()` returns None and the backend ignores `#TestCase`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MOCK_CONFIG_ENV = "SFN_MOCK_CONFIG"


class _Config:
    path: Path | None = None


_config = _Config()
_pending: contextvars.ContextVar[Any] = contextvars.ContextVar("qldb_dr_mock_test_case", default=None)


class MockConfigError(ValueError):
    """The mock configuration file is missing, unreadable, or lacks what a test case needs."""


def set_mock_config(path: Path | str | None) -> None:
    """Use the mock configuration file at `path` (None: back to $SFN_MOCK_CONFIG)."""
    _config.path = None if path is None else Path(path)


def mock_config_path() -> Path | None:
    if _config.path is not None:
        return _config.path
    value = os.environ.get(MOCK_CONFIG_ENV)
    return Path(value) if value else None


def load_test_case(state_machine_name: str, test_case: str) -> Any:
    """Test case `test_case` of `state_machine_name` as moto's MockTestCase."""
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponse,
        MockedResponseReturn,
        MockedResponseThrow,
        MockTestCase,
        StateMockedResponses,
    )

    path = mock_config_path()
    if path is None:
        raise MockConfigError(f"no mock configuration file: set {MOCK_CONFIG_ENV}")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MockConfigError(f"{path}: cannot read the mock configuration: {exc}") from exc
    machine = _object(config.get("StateMachines"), state_machine_name, f"{path}: StateMachines")
    case = _object(_object(machine, "TestCases", state_machine_name), test_case, f"{state_machine_name}.TestCases")
    responses = config.get("MockedResponses") or {}
    states = []
    try:
        for state_name, response_name in case.items():
            attempts = _object(responses, response_name, f"{path}: MockedResponses")
            mocked: list[MockedResponse] = []
            for attempt, response in attempts.items():
                start, end = _attempts(attempt, response_name)
                if isinstance(response, dict) and set(response) == {"Return"}:
                    mocked.append(MockedResponseReturn(start, end, payload=response["Return"]))
                elif isinstance(response, dict) and set(response) == {"Throw"} and isinstance(response["Throw"], dict):
                    throw = response["Throw"]
                    mocked.append(MockedResponseThrow(start, end, str(throw.get("Error")), str(throw.get("Cause", ""))))
                else:
                    raise MockConfigError(f"mocked response {response_name}[{attempt}]: needs one Return or one Throw")
            states.append(StateMockedResponses(state_name, response_name, mocked))
        return MockTestCase(state_machine_name, test_case, states)
    except (RuntimeError, ValueError) as exc:  # moto's checks: consecutive attempts, one entry per state
        raise MockConfigError(f"{path}: {exc}") from exc


def _object(parent: Any, key: str, where: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise MockConfigError(f"{where}: no {key!r}")
    return value


def _attempts(text: str, response_name: str) -> tuple[int, int]:
    first, _, last = text.strip().partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise MockConfigError(f"mocked response {response_name}: {text!r} is not an attempt number or range") from None


def _load_or_none(state_machine_name: str, test_case_name: str) -> Any:
    """Replaces moto's `load_mock_test_case_for` (which always returns None)."""
    try:
        return load_test_case(state_machine_name, test_case_name)
    except MockConfigError as exc:
        log.warning("mock test case %s#%s: %s", state_machine_name, test_case_name, exc)
        return None


def _start_execution_with_test_case(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps the backend's start_execution: `<arn>#<TestCase>` starts <arn> with that test case."""
    from moto.stepfunctions.exceptions import InvalidName

    def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        if "#" not in state_machine_arn:
            return original(self, state_machine_arn, *args, **kwargs)
        arn, _, case_name = state_machine_arn.partition("#")
        machine = self.describe_state_machine(arn)
        try:
            test_case = load_test_case(machine.name, case_name)
        except MockConfigError as exc:
            raise InvalidName(
                f"Invalid mock test case name '{case_name}' for state machine '{machine.name}': {exc}"
            ) from exc
        token = _pending.set(test_case)
        try:
            return original(self, arn, *args, **kwargs)
        finally:
            _pending.reset(token)

    start_execution.__wrapped__ = original  # type: ignore[attr-defined]
    return start_execution


def _worker_with_test_case(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `Execution._get_start_execution_worker`, which moto calls without the test case."""

    def _get_start_execution_worker(self: Any) -> Any:
        worker = original(self)
        test_case = _pending.get()
        if test_case is not None:
            worker._mock_test_case = test_case
        return worker

    _get_start_execution_worker.__wrapped__ = original  # type: ignore[attr-defined]
    return _get_start_execution_worker


def install() -> None:
    """Connect the mock configuration to moto's executor (idempotent)."""
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.mocking import mock_config
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    from qldb_dr.local.aws.patching import first_time, replace

    if not first_time("mockconfig"):
        return
    replace(mock_config, "load_mock_test_case_for", _load_or_none)
    replace(Backend, "start_execution", _start_execution_with_test_case(Backend.start_execution))
    replace(Execution, "_get_start_execution_worker", _worker_with_test_case(Execution._get_start_execution_worker))

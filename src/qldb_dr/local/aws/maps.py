"""Distributed Map Runs for the local endpoint's Step Functions: what moto's executor lacks.

1. Tolerated failures: ToleratedFailureCount/Percentage are enforced (moto turns a failed
   item into null and succeeds). AWS's rule: the percentage is (failed + timed out) / all
   items; with both fields the run fails when either is exceeded; with neither, at the first
   failure. Past the threshold the Map Run fails with `States.ExceedToleratedFailureThreshold`
   (a Catch can take it) and items not started yet are PENDING. A tolerated failed item
   appears in the Map's output as its result record, as on AWS.
2. ResultWriter writes AWS's files: `<Prefix>/<mapRunId>/manifest.json`, SUCCEEDED_0.json,
   FAILED_0.json (failed, timed out, aborted), PENDING_0.json, records in AWS's shape —
   also when the Map Run fails (moto: a stub manifest, nothing on failure) — and its
   Parameters' paths select from the Map state's input (moto: from the Map's outputs).
3. A worker takes its items in a loop (moto recurses once per item and overflows the stack
   past ~1,000 items per worker); unlimited MaxConcurrency means `UNLIMITED_WORKERS`
   threads; DescribeMapRun's counts stay right after failures.

4. ListMapRuns and DescribeMapRun answer while an execution's worker is still starting
   (moto reads `exec_worker.env`, None until the worker's thread runs, and logs a traceback
   for the first poll of every execution).

tests/aws/test_stepfunctions.py fails if a moto upgrade breaks one of these, and
`install()` fails loudly if an attribute it replaces is gone.
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

# AWS runs up to 10,000 children at once; here each is a thread of this process under one
# GIL, so beyond a few dozen more threads only cost memory.
UNLIMITED_WORKERS = 64

SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING = "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING"
_RESULT_FILES = {SUCCEEDED: SUCCEEDED, FAILED: FAILED, TIMED_OUT: FAILED, ABORTED: FAILED, PENDING: PENDING}


def _failure(env: Any, error_type: Any, event_type: Any, **details: Any) -> Exception:
    """moto's exception for a state failure named `error_type` (a StatesErrorNameType)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    return FailureEventException(
        FailureEvent(env=env, error_name=StatesErrorName(typ=error_type), event_type=event_type, event_details=details)  # type: ignore[arg-type]
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ItemResult:
    """What became of one item of a Map Run: one child execution, or PENDING if never started."""

    index: int
    status: str
    input: Any
    name: str = ""
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started: datetime | None = None
    stopped: datetime | None = None

    def record(self, state_machine_arn: str) -> dict[str, Any]:
        """The item's entry in the result files (AWS's shape; keys sorted as AWS writes them)."""
        entry: dict[str, Any] = {"Input": _compact(self.input), "InputDetails": {"Included": True}}
        if self.status == PENDING:
            return {**entry, "Status": PENDING}
        entry.update(
            {
                "ExecutionArn": f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{self.name}",
                "Name": self.name,
                "OutputDetails": {"Included": True},
                "RedriveCount": 0,
                "StartDate": _iso(self.started or datetime.now(UTC)),
                "StateMachineArn": state_machine_arn,
                "Status": self.status,
                "StopDate": _iso(self.stopped or datetime.now(UTC)),
            }
        )
        if self.status == SUCCEEDED:
            entry["Output"] = _compact(self.output)
            entry["RedriveStatus"] = "NOT_REDRIVABLE"
            entry["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
        else:
            entry["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN"
            if self.error is not None:
                entry["Error"] = self.error
            if self.cause is not None:
                entry["Cause"] = self.cause
        return dict(sorted(entry.items()))


class MapRun:
    """The items of one Distributed Map Run, and its tolerated failure threshold.

    AWS: the percentage is (failed + timed out) / all items; with both fields set the run
    fails when either is exceeded; with neither, the first failure fails it. Thresholds
    are read from the Map Run record each time, so UpdateMapRun applies.
    """

    def __init__(self, record: Any, total: int, count_given: bool, percentage_given: bool) -> None:
        self.record = record
        self.total = total
        self.count_given = count_given
        self.percentage_given = percentage_given
        self.results: dict[int, ItemResult] = {}
        self.failed = 0
        self.exceeded = False
        self.written = False
        self._lock = threading.Lock()

    @property
    def state_machine_arn(self) -> str:
        return str(self.record.map_state_machine_arn)

    def finish(self, result: ItemResult) -> None:
        with self._lock:
            self.results[result.index] = result
            if result.status in (FAILED, TIMED_OUT):
                self.failed += 1
                self.exceeded = self.exceeded or self._over_threshold()

    def _over_threshold(self) -> bool:
        count = int(self.record.tolerated_failure_count or 0)
        percentage = float(self.record.tolerated_failure_percentage or 0.0)
        by_count = self.count_given or count > 0
        by_percentage = self.percentage_given or percentage > 0
        if not (by_count or by_percentage):
            return self.failed > 0
        return (by_count and self.failed > count) or (by_percentage and self.failed * 100 > percentage * self.total)

    def describe_threshold(self) -> str:
        return (
            f"{self.failed} of {self.total} items failed; tolerated: "
            f"{self.record.tolerated_failure_count} items, {self.record.tolerated_failure_percentage}%"
        )

    def records_by_file(self) -> dict[str, list[dict[str, Any]]]:
        files: dict[str, list[dict[str, Any]]] = {FAILED: [], PENDING: [], SUCCEEDED: []}
        with self._lock:
            ordered = [self.results[i] for i in sorted(self.results)]
        for result in ordered:
            files[_RESULT_FILES[result.status]].append(result.record(self.state_machine_arn))
        return files


@dataclass
class _MapScope:
    """The Map state being evaluated on this thread, and its current Map Run."""

    state: Any
    state_input: Any
    run: MapRun | None = None


_scope: contextvars.ContextVar[_MapScope | None] = contextvars.ContextVar("qldb_dr_map_scope", default=None)
_runs_lock = threading.Lock()
_runs: dict[int, MapRun] = {}  # id(MapRunRecord) -> run, while the run is in progress


def _tolerance_given(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `StateMap.from_state_props`: moto fills absent tolerance fields with 0, and a 0
    that was written counts (fail when either is exceeded) where an absent one does not."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )

    def from_state_props(self: Any, state_props: Any) -> None:
        original(self, state_props)
        self.qldb_dr_tolerance_given = (
            state_props.get(ToleratedFailureCountDecl) is not None,
            state_props.get(ToleratedFailurePercentageDecl) is not None,
        )

    from_state_props.__wrapped__ = original  # type: ignore[attr-defined]
    return from_state_props


def _map_state_writes_results(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `StateMap._eval_execution`: a Map Run that fails still writes its result files."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

    def _eval_execution(self: Any, env: Any) -> None:
        scope = _MapScope(self, copy.deepcopy(env.stack[-1]) if env.stack else env.states.get_input())
        token = _scope.set(scope)
        try:
            original(self, env)
        except FailureEventException:
            run = scope.run
            if run is not None and not run.written and self.result_writer is not None:
                try:
                    env.stack.append([])  # the writer pops the (unused) outputs, then pushes its own
                    self.result_writer.eval(env)
                    env.stack.pop()
                except Exception:  # the Map's own failure is the one to report
                    log.exception("writing the results of a failed Map Run")
            raise
        finally:
            _scope.reset(token)

    _eval_execution.__wrapped__ = original  # type: ignore[attr-defined]
    return _eval_execution


def _map_run(self: Any, env: Any, eval_input: Any) -> None:
    """Replaces `DistributedIterationComponent._map_run`."""
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
        DEFAULT_MAX_CONCURRENCY_VALUE,
    )

    items: list[Any] = env.stack.pop()
    record = eval_input.map_run_record
    scope = _scope.get()
    count_given, percentage_given = getattr(scope.state if scope else None, "qldb_dr_tolerance_given", (True, True))
    run = MapRun(record, len(items), count_given, percentage_given)
    if scope is not None:
        scope.run = run
    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=items)
    concurrency = int(record.max_concurrency)
    workers = min(len(items), UNLIMITED_WORKERS if concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else concurrency)
    with _runs_lock:
        _runs[id(record)] = run
    try:
        for _ in range(workers):
            self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
        job_pool.await_jobs()
    finally:
        with _runs_lock:
            _runs.pop(id(record), None)
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    if run.exceeded:
        name = StatesErrorNameType.StatesExceedToleratedFailureThreshold
        cause = f"The Map Run exceeded its tolerated failure threshold: {run.describe_threshold()}"
        raise _failure(
            env, name, HistoryEventType.MapRunFailed, mapRunFailedEventDetails={"error": name.to_name(), "cause": cause}
        )
    env.stack.append([closed.job_output for closed in job_pool.get_closed_jobs()])


def _worker_eval(self: Any) -> None:
    """Replaces `eval` of moto's two Distributed Map workers: take items until none are left."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator.distributed_iterator_worker import (  # noqa: E501
        DistributedIteratorWorker,
    )

    with _runs_lock:
        run = _runs[id(self._map_run_record)]
    while (job := self._job_pool.next_job()) is not None:
        if run.exceeded or self.stopped() or not self._env.is_running():
            result = ItemResult(job.job_index, PENDING, job.job_input)
            self._map_run_record.item_counter.pending.count()
            run.finish(result)
            job.job_output = None
        else:
            frame = (
                self._env.open_frame() if isinstance(self, DistributedIteratorWorker) else self._env.open_inner_frame()
            )
            try:
                job.job_output = _run_item(self, frame, job, run)
            finally:
                self._env.delete_frame(frame)
        self._job_pool.close_job(job)


def _run_item(worker: Any, env: Any, job: Any, run: MapRun) -> Any:
    """One child execution; returns the item's entry in the Map's output (a failed item, when
    tolerated, appears as its result record, as on AWS)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    items, executions = run.record.item_counter, run.record.execution_counter
    for counter in (items, executions):
        counter.total.count()
        counter.running.count()
    result = ItemResult(job.job_index, FAILED, job.job_input, name=str(uuid.uuid4()), started=datetime.now(UTC))
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input)
        )
        env.states.reset(input_value=job.job_input)
        env.stack.append(env.states.get_input())
        worker._eval_input(env_frame=env)
        result.input = env.states.get_input()
        job.job_program.eval(env)
        state = env.program_state()
        if isinstance(state, ProgramError):
            error = state.error or {}
            result.error, result.cause = error.get("error"), error.get("cause")
        elif isinstance(state, ProgramTimedOut):
            result.status, result.error = TIMED_OUT, "States.Timeout"
        elif isinstance(state, ProgramStopped):
            result.status = ABORTED
        else:
            result.status, result.output = SUCCEEDED, env.states.get_input()
    except EvalTimeoutError:
        result.status, result.error = TIMED_OUT, "States.Timeout"
    except FailureEventException as exc:
        result.error, result.cause = exc.extract_error_cause_pair() or (None, None)
    except Exception as exc:  # a fault of the interpreter: the item fails, the run goes on
        log.exception("Map Run item %s", job.job_index)
        result.error, result.cause = "States.Runtime", f"{type(exc).__name__}({exc})"
    result.stopped = datetime.now(UTC)
    for counter in (items, executions):
        counter.running.offset(-1)
        {SUCCEEDED: counter.succeeded, FAILED: counter.failed, TIMED_OUT: counter.timed_out}.get(
            result.status, counter.aborted
        ).count()
    run.finish(result)
    return result.output if result.status == SUCCEEDED else result.record(run.state_machine_arn)


def _result_writer_eval_body(self: Any, env: Any) -> None:
    """Replaces `ResultWriter._eval_body`: its Parameters' paths select from the Map state's
    input (moto: from the Map's outputs, so `"Bucket.$": "$.bucket"` fails)."""
    scope = _scope.get()
    env.stack.append(scope.state_input if scope is not None else env.stack[-1])
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def _write_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """Replaces `ResourceEvalS3._handle_put_object` of ResultWriter (moto: a stub manifest)."""
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    parameters = env.stack.pop()
    env.stack.pop()  # the Map's outputs: the item results below say more
    scope = _scope.get()
    run = scope.run if scope is not None else None
    if run is None:
        raise RuntimeError("ResultWriter outside a Distributed Map Run")
    arn = str(run.record.map_run_arn)
    bucket = str(parameters["Bucket"])
    prefix = str(parameters.get("Prefix") or "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{arn.rsplit(':', 1)[-1]}/"
    s3 = ResourceEvalS3._get_s3_client(resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
    manifest: dict[str, Any] = {"DestinationBucket": bucket, "MapRunArn": arn, "ResultFiles": {}}
    try:
        for kind, records in run.records_by_file().items():
            manifest["ResultFiles"][kind] = []
            if records:
                key, body = f"{base}{kind}_0.json", json.dumps(records).encode()
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                manifest["ResultFiles"][kind].append({"Key": key, "Size": len(body)})
        s3.put_object(Bucket=bucket, Key=f"{base}manifest.json", Body=json.dumps(manifest).encode())
    except Exception as exc:
        name = StatesErrorNameType.StatesResultWriterFailed
        raise _failure(
            env,
            name,
            HistoryEventType.TaskFailed,
            taskFailedEventDetails={"error": name.to_name(), "cause": f"s3://{bucket}/{base}: {exc}"},
        ) from exc
    run.written = True
    env.stack.append({"MapRunArn": arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}manifest.json"}})


def _run_records(execution: Any) -> Any:
    """An execution's Map Run records, or None while its worker has not started."""
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    return None if env is None else env.map_run_record_pool_manager


def _list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
    runs = _run_records(self.describe_execution(execution_arn=execution_arn))
    return {"mapRuns": [] if runs is None else [record.list_item() for record in runs.get_all()]}


def _describe_map_run(self: Any, map_run_arn: str) -> dict[str, Any]:
    from moto.stepfunctions.parser.api import ResourceNotFound

    for execution in self._get_executions():
        runs = _run_records(execution)
        record = None if runs is None else runs.get(map_run_arn)
        if record is not None:
            described: dict[str, Any] = record.describe()
            return described
    raise ResourceNotFound(f"Map Run {map_run_arn} does not exist")  # moto's own raise lacks the message


def install() -> None:
    """Patch moto's Distributed Map (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from qldb_dr.local.aws.patching import first_time, replace, require

    if not first_time("maps"):
        return
    # 1, 3: tolerated failures enforced, items taken in a loop, counts right.
    replace(distributed_iteration_component.DistributedIterationComponent, "_map_run", _map_run)
    for worker in (
        distributed_item_processor_worker.DistributedItemProcessorWorker,
        distributed_iterator_worker.DistributedIteratorWorker,
    ):
        require(worker, "_eval_pool")  # the recursion `eval` enters; gone means moto changed
        replace(worker, "eval", _worker_eval)
    replace(StateMap, "from_state_props", _tolerance_given(StateMap.from_state_props))
    # 2: result files, also for a failed Map Run; Parameters from the state's input.
    replace(StateMap, "_eval_execution", _map_state_writes_results(StateMap._eval_execution))
    replace(result_writer_decl.ResultWriter, "_eval_body", _result_writer_eval_body)
    replace(resource_eval_s3.ResourceEvalS3, "_handle_put_object", staticmethod(_write_results))
    # 4: Map Runs listed and described before an execution's worker has started.
    require(StepFunctionsParserBackend, "_get_executions")
    replace(StepFunctionsParserBackend, "list_map_runs", _list_map_runs)
    replace(StepFunctionsParserBackend, "describe_map_run", _describe_map_run)

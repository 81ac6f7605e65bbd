"""Lambda's execution environments on the local endpoint (src/qldb_dr/local/aws/environments.py):
each function's handlers run in processes of their own, killed at the function's timeout,
a crash failing only its invocation, side by side up to the function's concurrency."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.local.aws import environments, lambdas
from qldb_dr.local.aws.lambdas import deploy_function
from tests.aws.support import create_machine, run
from tests.local.conftest import Running, serve_process


def invoke(client: Any, name: str, payload: Any = None) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}))
    return response, json.loads(response["Payload"].read())


def gone(pid: int, wait: float = 10.0) -> bool:
    """Whether process `pid` has ended (a zombie nobody reaps counts as ended), waiting a little
    for the kill to land."""
    deadline = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_invocation_over_timeout_kills_its_process_sandbox_timedout(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "sleeper", "tests.aws.handlers.sleep", timeout=1)
    _, warm = invoke(lam, "sleeper")
    assert warm["pid"] != os.getpid()  # not in the endpoint's process
    response, payload = invoke(lam, "sleeper", {"seconds": 60})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout", payload
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert gone(warm["pid"])  # the warm environment ran it, and was killed
    _, after = invoke(lam, "sleeper")
    assert after["pid"] != warm["pid"]


def test_step_functions_task_over_lambda_timeout_fails_sandbox_timedout(aws: Running) -> None:
    lam, sfn = aws.client("lambda"), aws.client("stepfunctions")
    function = deploy_function(lam, "sleeper", "tests.aws.handlers.sleep", timeout=1)
    definition = {
        "StartAt": "Sleep",
        "States": {"Sleep": {"Type": "Task", "Resource": function, "End": True}},
    }
    described = run(sfn, create_machine(sfn, "sleeps", {**definition}), {"seconds": 60})
    assert described["status"] == "FAILED" and described["error"] == "Sandbox.Timedout", described
    assert "Task timed out after 1.00 seconds" in json.loads(described["cause"])["errorMessage"]


def test_environment_past_its_memory_size_is_killed_runtime_out_of_memory(aws: Running) -> None:
    """As Lambda does: the environment is stopped, the invocation fails Runtime.OutOfMemory, the
    REPORT line says how much it used; the next invocation gets a fresh one. Under the limit,
    the REPORT line says Max Memory Used and the process goes by its handler's module."""
    lam = aws.client("lambda")
    deploy_function(lam, "hog", "tests.aws.handlers.allocate", memory_mb=128)
    response, warm = invoke(lam, "hog", {"mb": 1})
    report = base64.b64decode(lam.invoke(FunctionName="hog", Payload=b"{}", LogType="Tail")["LogResult"]).decode()
    assert warm["name"] == "handlers" and "FunctionError" not in response
    used = re.search(r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB", report)
    assert used is not None and 0 < int(used.group(1)) < 128, report
    response, payload = invoke(lam, "hog", {"mb": 200, "seconds": 30})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.OutOfMemory", payload
    assert payload["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert gone(warm["pid"])
    response, after = invoke(lam, "hog", {"mb": 1})
    assert "FunctionError" not in response and after["pid"] != warm["pid"]


@pytest.mark.parametrize(
    ("how", "reason"),
    [("exit", "exit status 3"), ("segfault", "signal: segmentation fault"), ("system-exit", "exit status 2")],
)
def test_crashing_handler_fails_only_its_invocation_next_one_runs(aws: Running, how: str, reason: str) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "crasher", "tests.aws.handlers.crash")
    _, first = invoke(lam, "crasher")
    response, payload = invoke(lam, "crasher", {"how": how})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ExitError", payload
    assert payload["errorMessage"].endswith(f"Runtime exited with error: {reason}")
    assert gone(first["pid"])
    response, after = invoke(lam, "crasher")
    assert "FunctionError" not in response and after["pid"] not in (first["pid"], os.getpid())


def _overlapping(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["started"] < b["ended"] and b["started"] < a["ended"]


def test_concurrent_invocations_run_side_by_side_in_separate_processes(aws: Running) -> None:
    deploy_function(aws.client("lambda"), "sleeper", "tests.aws.handlers.sleep")
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: invoke(aws.client("lambda"), "sleeper", {"seconds": 1.0})[1], range(2))
    assert a["pid"] != b["pid"] and _overlapping(a, b), (a, b)


def test_reserved_concurrency_one_queues_invocations_in_one_process(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "sleeper", "tests.aws.handlers.sleep")
    lam.put_function_concurrency(FunctionName="sleeper", ReservedConcurrentExecutions=1)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: invoke(aws.client("lambda"), "sleeper", {"seconds": 0.3})[1], range(3)))
    assert len({r["pid"] for r in results}) == 1
    assert not any(_overlapping(a, b) for a in results for b in results if a is not b), results


def test_functions_have_separate_processes_and_environments(aws: Running) -> None:
    lam = aws.client("lambda")
    for vault in ("primary", "replica"):
        deploy_function(lam, f"env-{vault}", "tests.aws.handlers.set_process_variable", {"VAULT_BUCKET": vault})
    _, primary = invoke(lam, "env-primary", {"name": "LEAKED", "value": "from-primary"})
    _, replica = invoke(lam, "env-replica", {"name": "LEAKED"})
    assert primary == {"pid": primary["pid"], "value": "from-primary", "vault": "primary"}
    assert replica == {"pid": replica["pid"], "value": None, "vault": "replica"}
    assert primary["pid"] != replica["pid"] and "LEAKED" not in os.environ and "VAULT_BUCKET" not in os.environ


def test_configuration_update_recycles_environments_with_the_new_environment(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "env", "tests.aws.handlers.set_process_variable", {"VAULT_BUCKET": "a"})
    _, before = invoke(lam, "env", {"name": "X"})
    lam.update_function_configuration(FunctionName="env", Environment={"Variables": {"VAULT_BUCKET": "b"}})
    _, after = invoke(lam, "env", {"name": "X"})
    assert (before["vault"], after["vault"]) == ("a", "b")
    assert after["pid"] != before["pid"] and gone(before["pid"])


def test_shutdown_and_deleted_function_leave_no_process(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "kept", "tests.aws.handlers.sleep")
    deploy_function(lam, "deleted", "tests.aws.handlers.sleep")
    _, kept = invoke(lam, "kept")
    _, deleted = invoke(lam, "deleted")
    lam.delete_function(FunctionName="deleted")
    assert gone(deleted["pid"]) and not gone(kept["pid"], wait=0)
    environments.shutdown()
    assert gone(kept["pid"])


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_endpoint_process_ends_its_functions_processes_end(tmp_path: Path, stop: str) -> None:
    """`qldb-dr local up` stopped (SIGTERM) or killed (SIGKILL: no clean-up runs) leaves no
    worker, and its environments started without a word on its stderr."""
    endpoint = serve_process(tmp_path / "data")
    try:
        lam = endpoint.client("lambda")
        deploy_function(lam, "sleeper", "tests.aws.handlers.sleep", iam=endpoint.client("iam"))
        with ThreadPoolExecutor(2) as pool:
            pids = {r["pid"] for r in pool.map(lambda _: invoke(lam, "sleeper", {"seconds": 0.5})[1], range(2))}
        assert endpoint.process is not None and endpoint.process.pid not in pids and len(pids) == 2
        endpoint.process.send_signal(signal.SIGTERM if stop == "sigterm" else signal.SIGKILL)
        endpoint.process.wait(timeout=30)
        assert all(gone(pid) for pid in pids)
        # Started as `python -m qldb_dr.cli.main`, each environment used to warn that the main
        # module was "found in sys.modules" (the fork server had preloaded it by its name).
        assert endpoint.process.stderr is not None
        errors = endpoint.process.stderr.read()
        assert "Warning" not in errors and "Traceback" not in errors, errors
    finally:
        endpoint.stop()


def test_mode_and_concurrency_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="QLDB_DR_LOCAL_LAMBDA='threads': give one of process, inline"):
        lambdas.set_mode("threads")
    with pytest.raises(ValueError, match="QLDB_DR_LOCAL_LAMBDA_CONCURRENCY='0'"):
        environments.default_concurrency({environments.CONCURRENCY_ENV: "0"})
    assert environments.default_concurrency({}) == environments.DEFAULT_CONCURRENCY
    assert environments.default_concurrency({environments.CONCURRENCY_ENV: "8"}) == 8

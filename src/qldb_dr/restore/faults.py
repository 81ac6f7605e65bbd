"""Injected faults: a drill's and the tests' way to make one replay batch fail, through the
real workflow, in whatever process the replay function runs in.

A drill or test facility, off unless set: the Replay Partition function's environment
variable QLDB_DR_FAULT_REPLAY = "<restoreId>/<partition>" (set with Lambda's
UpdateFunctionConfiguration, so a function running in another process sees it as on AWS)
makes that partition of that restore fail with InjectedFaultError, at its start, before it
writes anything; "*/<partition>" fails that partition of every restore (for a restore whose id
is chosen later, as a scheduled drill's). Clearing the variable ends the fault: a retry of the restore then succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qldb_dr.errors import InjectedFaultError

REPLAY_FAULT = "QLDB_DR_FAULT_REPLAY"
REPLAY_FUNCTION = "qldb-dr-replay-partition"  # the function the fault is set on (its deployed name)


def replay_fault(restore_id: str, partition: int) -> str:
    """The variable's value that fails `partition` of `restore_id`."""
    return f"{restore_id}/{partition}"


def check_replay(environment: Mapping[str, str], restore_id: str, partition: int) -> None:
    """The one place the replay step reads the fault: raise if it names this batch."""
    if environment.get(REPLAY_FAULT) in (replay_fault(restore_id, partition), replay_fault("*", partition)):
        raise InjectedFaultError(
            f"partition {partition} of restore {restore_id}: a failure injected by {REPLAY_FAULT} (a drill or test)"
        )


def set_replay_fault(lambda_client: Any, value: str | None) -> None:
    """Set (or, None, clear) the fault on the region's Replay Partition function, keeping its
    other variables."""
    current = lambda_client.get_function_configuration(FunctionName=REPLAY_FUNCTION)
    variables = dict((current.get("Environment") or {}).get("Variables") or {})
    if value is None:
        if REPLAY_FAULT not in variables:
            return
        variables.pop(REPLAY_FAULT)
    else:
        variables[REPLAY_FAULT] = value
    lambda_client.update_function_configuration(FunctionName=REPLAY_FUNCTION, Environment={"Variables": variables})

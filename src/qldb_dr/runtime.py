"""A task handler's view of where it runs: its environment variables.

On AWS Lambda these are the process environment. The local endpoint runs every function
in one process, many invocations side by side (a Distributed Map), so it cannot change
`os.environ` per invocation: it sets each invocation's variables here, in a context
variable, and handlers read them through `environment()` — the same call on AWS and
locally, so nothing in `tasks/` knows where it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_invocation: ContextVar[Mapping[str, str] | None] = ContextVar("qldb_dr_invocation_environment", default=None)


def environment() -> Mapping[str, str]:
    """The environment variables of the running function (the process's outside Lambda)."""
    variables = _invocation.get()
    return os.environ if variables is None else variables


@contextmanager
def invocation_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Run a block as one function invocation with `variables` on top of the process's."""
    token = _invocation.set({**os.environ, **variables})
    try:
        yield
    finally:
        _invocation.reset(token)


def region() -> str:
    """The region the function runs in (Lambda sets AWS_REGION)."""
    env = environment()
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

"""How qldb-dr patches moto: an attribute at a time, each install() once per process.

moto's classes are typed; replacing their methods on purpose goes through `replace`, so
the type checker does not see an assignment to a method, and a moto upgrade that renames
or removes what a patch replaces fails loudly at install time.
"""

from __future__ import annotations

import threading
from typing import Any

_done: set[str] = set()
_lock = threading.Lock()


class MotoChangedError(RuntimeError):
    """moto no longer has an attribute a qldb-dr patch replaces or relies on: re-check the
    patch against the new moto (a retry cannot help)."""


def first_time(name: str) -> bool:
    """True only the first time `name` asks (what makes each install() idempotent)."""
    with _lock:
        if name in _done:
            return False
        _done.add(name)
        return True


def original(owner: Any, name: str) -> Any:
    """`owner.name` as it is now (what a patch wraps); MotoChangedError if it is gone."""
    try:
        return getattr(owner, name)
    except AttributeError:
        import moto

        label = getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))
        raise MotoChangedError(f"moto {moto.__version__} has no {label}.{name}: re-check the qldb-dr patch") from None


require = original  # the earlier name of `original`


def replace(owner: Any, name: str, value: Any) -> None:
    """Set `owner.name`, which must exist already."""
    original(owner, name)
    setattr(owner, name, value)

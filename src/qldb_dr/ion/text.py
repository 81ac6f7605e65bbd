"""Ion text through amazon.ion's reader and writer (the field library; text is not a hot path)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from amazon.ion import simpleion


def iter_text(data: bytes | str) -> Iterator[Any]:
    """Every top-level value of an Ion text stream, in order."""
    yield from simpleion.loads(data, single_value=False)


def load_text(data: bytes | str) -> Any:
    """The single top-level value of an Ion text document."""
    return simpleion.loads(data)


def dump_text(values: Iterable[Any], *, pretty: bool = False) -> bytes:
    """Top-level values as Ion text, one per line."""
    lines = [
        simpleion.dumps(v, binary=False, omit_version_marker=True, indent="  " if pretty else None) for v in values
    ]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""

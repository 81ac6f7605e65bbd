"""How qldb-dr writes times and bytes in JSON: ISO 8601 in UTC to the millisecond, and base64."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import overload


def iso(moment: datetime) -> str:
    """2026-12-06T14:30:00.250Z"""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """What `iso` wrote, or any ISO 8601 time (UTC when it has no offset); ValueError otherwise."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@overload
def b64(data: bytes) -> str: ...
@overload
def b64(data: None) -> None: ...
def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


@overload
def unb64(text: str) -> bytes: ...
@overload
def unb64(text: None) -> None: ...
def unb64(text: str | None) -> bytes | None:
    """binascii.Error (a ValueError) when `text` is not base64."""
    return None if text is None else base64.b64decode(text, validate=True)

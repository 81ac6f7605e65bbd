"""Pinned objects: read exactly the version a recovery point recorded, or refuse.

Object Lock keeps a locked version from being deleted or shortened, but S3 lets anyone with
PutObject write a *newer* version over the same key, and every plain read reads the newest.
So the catalog pins each object of a recovery point — manifests, data objects, proof — to
the S3 version id and the SHA-256 of the bytes that were verified (`Pin`), and `PinnedStore`
reads through them: the pinned version, its digest checked (`TamperedObjectError` if it
differs); a newer version over a pinned key is never read and is reported as tampering
(`overwritten`) — a restore still reads the locked original, so writing over keys cannot deny
a recovery. A directory copy has no versions: there the
SHA-256 alone decides. `Recorder` is how Verify Export learns the pins: it records what it
read.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from qldb_dr.errors import ObjectNotFoundError, TamperedObjectError
from qldb_dr.store import Store


@dataclass(frozen=True, slots=True)
class Pin:
    version: str | None  # the S3 version id (None: an unversioned bucket, a directory)
    sha256: str  # hex

    def to_json(self) -> dict[str, Any]:
        return {"versionId": self.version, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: Any) -> Pin:
        return cls(None if value.get("versionId") is None else str(value["versionId"]), str(value["sha256"]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Delegating:
    """A Store that forwards everything it does not change to `inner`."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def prefix(self) -> str:
        return self.inner.prefix

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def read(self, key: str) -> bytes:
        return self.fetch(key)[0]

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]:
        return self.inner.fetch(key, version)

    def versions(self, prefix: str = "") -> dict[str, builtins.list[str]]:
        return self.inner.versions(prefix)

    def write(self, key: str, data: bytes) -> None:
        self.inner.write(key, data)

    def create(self, key: str, data: bytes) -> None:
        self.inner.create(key, data)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        return self.inner.size(key)

    def tag(self, key: str, tags: dict[str, str]) -> None:
        self.inner.tag(key, tags)

    def describe(self, key: str) -> str:
        return self.inner.describe(key)


class PinnedStore(_Delegating):
    """Reads of pinned keys return the pinned version, its SHA-256 checked; other keys read as
    usual. A bucket that is a copy rather than the vault or its replica (replication keeps
    version ids; a copy gets new ones) has no pinned version: there, as in a directory, the
    current version is read and the SHA-256 alone decides. `overwritten` names the pinned keys
    with a newer version over the pinned one (from one listing of versions per export, taken
    when the store is made): tampering to report, never read."""

    def __init__(self, inner: Store, pins: Mapping[str, Pin], versions: Mapping[str, builtins.list[str]]) -> None:
        super().__init__(inner)
        self.pins = dict(pins)
        self.versions_of = dict(versions)
        self.overwritten = {
            key: ids[-1]
            for key, pin in self.pins.items()
            if pin.version is not None
            and pin.version in (ids := self.versions_of.get(key, []))
            and ids[-1] != pin.version
        }

    def scoped(self, prefix: str) -> PinnedStore:
        return PinnedStore(self.inner.scoped(prefix), self.pins, self.versions_of)

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]:
        pin = self.pins.get(key)
        if pin is None or version is not None:
            return self.inner.fetch(key, version)
        try:
            data, read = self.inner.fetch(key, pin.version)
        except ObjectNotFoundError:
            if pin.version is None:
                raise
            data, read = self.inner.fetch(key)  # a copy of the vault: its own version ids
        if sha256(data) != pin.sha256:
            error = TamperedObjectError(
                self.describe(key),
                f"its SHA-256 is {sha256(data)[:16]}…, not the {pin.sha256[:16]}… the catalog pinned: "
                "the object changed",
            )
            error.data = data  # what is there now, for a verifier to say where it differs
            raise error
        return data, read


def pinned(store: Store, pins: Mapping[str, Pin], heads: Iterable[str]) -> PinnedStore:
    """`store` read through `pins`; the versions of every key under `heads` (the export heads
    the pins belong to) are listed once, one listing per head, to find objects written over."""
    versions: dict[str, builtins.list[str]] = {}
    for head in heads:
        relative = head[len(store.prefix) :] if head.startswith(store.prefix) else head
        versions.update(store.versions(relative))
    return PinnedStore(store, pins, versions)


class Recorder(_Delegating):
    """Remembers the version and SHA-256 of everything read through it."""

    def __init__(self, inner: Store, pins: dict[str, Pin] | None = None) -> None:
        super().__init__(inner)
        self.pins: dict[str, Pin] = {} if pins is None else pins

    def scoped(self, prefix: str) -> Recorder:
        return Recorder(self.inner.scoped(prefix), self.pins)

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]:
        data, read = self.inner.fetch(key, version)
        self.pins[key] = Pin(read, sha256(data))
        return data, read

"""The storage port: where exports, proofs and catalogs live.

Contract, for every adapter (tests/unit/test_store_contract.py runs it against each):

* A store is a flat namespace of keys (S3 semantics: "/" is an ordinary character)
  under a root given by its URL: ``file:///abs/dir/`` or ``s3://bucket/prefix``.
* Keys are in the store's own namespace: bucket keys for S3 (the form QLDB writes into
  completed manifests), paths relative to the directory for a local store.
* ``list(prefix)`` yields every key that starts with the store's prefix + `prefix`, in
  ascending order, each once. An empty or missing location yields nothing.
* ``read(key)`` returns the object's bytes, or raises ``ObjectNotFoundError``.
* ``fetch(key, version)`` returns the bytes of that version of the object (the current one
  when `version` is None) and the version id it read (None where the store keeps no
  versions: a directory, an unversioned bucket); a version that does not exist raises
  ``ObjectNotFoundError``.
* ``versions(prefix)`` maps every key under the prefix to its version ids, oldest first (an
  empty list where the store keeps no versions).
* ``write(key, data)`` creates or replaces the object; a reader never sees a partial
  object (local: write to a temporary file, then rename).
* ``create(key, data)`` writes only if the key is absent, atomically, or raises
  ``ObjectExistsError`` (S3: ``If-None-Match: *``; local: an exclusive link).
* ``exists(key)`` never raises for a missing key; ``size(key)`` raises ``ObjectNotFoundError``.
* ``scoped(prefix)`` is the same store with its listing limited to ``prefix`` (keys keep
  their namespace).
* ``tag(key, tags)`` replaces an object's tags (S3 object tagging, allowed under Object
  Lock); a local directory has no tags and ignores them.
* Any other failure raises ``StoreAccessError`` (retryable).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Protocol

from qldb_dr.errors import SourceNotFoundError


class Store(Protocol):
    @property
    def url(self) -> str:
        """Canonical location of the store's root."""
        ...

    @property
    def prefix(self) -> str:
        """The key prefix this store is rooted at ('' for a local directory)."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def read(self, key: str) -> bytes: ...

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]: ...

    def versions(self, prefix: str = "") -> dict[str, builtins.list[str]]: ...

    def write(self, key: str, data: bytes) -> None: ...

    def create(self, key: str, data: bytes) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def scoped(self, prefix: str) -> Store: ...

    def tag(self, key: str, tags: dict[str, str]) -> None: ...

    def describe(self, key: str) -> str:
        """A human location for messages: a path or an s3:// URL."""
        ...


def open_store(location: str) -> Store:
    """A store for a directory path, ``file://`` URL or ``s3://bucket[/prefix]`` URL."""
    if location.startswith("s3://"):
        from qldb_dr.store.s3 import S3Store

        return S3Store.from_url(location)
    from qldb_dr.store.local import LocalStore

    path = location.removeprefix("file://")
    if not path:
        raise SourceNotFoundError("empty location", hint="give a directory or s3://bucket/prefix")
    return LocalStore(path)

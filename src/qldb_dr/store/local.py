"""A store in a local directory: the default in tests and for offline verification."""

from __future__ import annotations

import builtins
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from qldb_dr.errors import ObjectExistsError, ObjectNotFoundError, StoreAccessError


class LocalStore:
    def __init__(self, root: str | Path, prefix: str = "") -> None:
        self._root = Path(root).expanduser().absolute()
        self._prefix = prefix

    @property
    def url(self) -> str:
        return self._root.as_uri() + "/" + self._prefix

    @property
    def prefix(self) -> str:
        return self._prefix

    def scoped(self, prefix: str) -> LocalStore:
        return LocalStore(self._root, prefix)

    def tag(self, key: str, tags: dict[str, str]) -> None:
        """Directories have no object tags: nothing to do."""

    def size(self, key: str) -> int:
        path = self._path(key)
        try:
            return path.stat().st_size
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(str(path)) from exc

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise StoreAccessError(f"key {key!r} points outside {self._root}")
        return path

    def describe(self, key: str) -> str:
        return str(self._root / key)

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self._root.is_dir():
            return
        keys: list[str] = []
        try:
            for directory, _, files in os.walk(self._root):
                for name in files:
                    if name.startswith(".tmp-"):
                        continue
                    key = (Path(directory) / name).relative_to(self._root).as_posix()
                    if key.startswith(self._prefix + prefix):
                        keys.append(key)
        except OSError as exc:
            raise StoreAccessError(f"{self._root}: cannot list ({exc.strerror})") from exc
        yield from sorted(keys)

    def read(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(str(path)) from exc
        except OSError as exc:
            raise StoreAccessError(f"{path}: cannot read ({exc.strerror})") from exc

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]:
        """A directory keeps one version of a file: `version` names the one S3 had, which the
        caller checks by content (SHA-256)."""
        return self.read(key), None

    def versions(self, prefix: str = "") -> dict[str, builtins.list[str]]:
        return {key: [] for key in self.list(prefix)}

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            _staged(path, data).replace(path)
        except OSError as exc:
            raise StoreAccessError(f"{path}: cannot write ({exc.strerror})") from exc

    def create(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            tmp = _staged(path, data)
            try:
                os.link(tmp, path)  # atomic, and fails if the name exists
            except FileExistsError as exc:
                raise ObjectExistsError(str(path)) from exc
            finally:
                tmp.unlink()
        except OSError as exc:
            raise StoreAccessError(f"{path}: cannot write ({exc.strerror})") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _staged(path: Path, data: bytes) -> Path:
    """`data` in a temporary file beside `path`, ready to be renamed or linked into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return Path(tmp)

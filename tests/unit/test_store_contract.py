"""The storage contract (qldb_dr/store/__init__.py), run against every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.errors import ObjectExistsError, ObjectNotFoundError, SourceNotFoundError, StoreAccessError
from qldb_dr.store import Store, open_store
from qldb_dr.store.local import LocalStore
from qldb_dr.store.s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "local":
        yield LocalStore(tmp_path / "root")
    else:
        client: Any = request.getfixturevalue("s3_client")
        yield S3Store("vault", "ledgers/", client)


def _key(store: Store, key: str) -> str:
    """A key in the store's namespace: S3 keys carry the store's prefix."""
    return store.prefix + key


def test_store_written_object_reads_back(store: Store) -> None:
    store.write(_key(store, "a/b.ion"), b"\xe0\x01\x00\xea")
    assert store.read(_key(store, "a/b.ion")) == b"\xe0\x01\x00\xea"


def test_store_rewrite_replaces_object(store: Store) -> None:
    store.write(_key(store, "x"), b"one")
    store.write(_key(store, "x"), b"two")
    assert store.read(_key(store, "x")) == b"two"


def test_store_missing_key_raises_not_found(store: Store) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.read(_key(store, "nope"))


def test_store_create_absent_key_writes(store: Store) -> None:
    store.create(_key(store, "new"), b"first")
    assert store.read(_key(store, "new")) == b"first"


def test_store_create_taken_key_refused_original_kept(store: Store) -> None:
    store.write(_key(store, "taken"), b"first")
    with pytest.raises(ObjectExistsError):
        store.create(_key(store, "taken"), b"second")
    assert store.read(_key(store, "taken")) == b"first"


def test_store_exists_missing_key_false(store: Store) -> None:
    assert not store.exists(_key(store, "nope"))
    store.write(_key(store, "yes"), b"")
    assert store.exists(_key(store, "yes"))


def test_store_list_sorted_and_filtered_by_prefix(store: Store) -> None:
    for key in ["j/b", "j/a/2", "j/a/1", "k/z", "j.manifest"]:
        store.write(_key(store, key), key.encode())
    assert list(store.list("j/")) == [_key(store, k) for k in ["j/a/1", "j/a/2", "j/b"]]
    assert list(store.list()) == [_key(store, k) for k in ["j.manifest", "j/a/1", "j/a/2", "j/b", "k/z"]]


def test_store_list_empty_location_yields_nothing(store: Store) -> None:
    assert list(store.list("nothing/")) == []


def test_store_listed_keys_read_back(store: Store) -> None:
    store.write(_key(store, "dir/file.ion"), b"data")
    (key,) = list(store.list())
    assert store.read(key) == b"data"


def test_store_scoped_lists_only_its_prefix_same_keys(store: Store) -> None:
    store.write(_key(store, "a/one"), b"1")
    store.write(_key(store, "b/two"), b"22")
    scoped = store.scoped(_key(store, "b/"))
    assert list(scoped.list()) == [_key(store, "b/two")]
    assert scoped.read(_key(store, "b/two")) == b"22" and scoped.size(_key(store, "b/two")) == 2


def test_store_size_missing_key_not_found(store: Store) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.size(_key(store, "nope"))


def test_store_tag_existing_object_keeps_data(store: Store) -> None:
    store.write(_key(store, "tagged"), b"data")
    store.tag(_key(store, "tagged"), {"qldb-dr:ledger": "orders"})
    assert store.read(_key(store, "tagged")) == b"data"


def test_local_store_key_outside_root_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreAccessError):
        LocalStore(tmp_path / "root").read("../escape")


def test_local_store_missing_directory_lists_nothing(tmp_path: Path) -> None:
    assert list(LocalStore(tmp_path / "absent").list()) == []


def test_s3_store_missing_bucket_is_source_not_found(s3_client: Any) -> None:
    with pytest.raises(SourceNotFoundError):
        list(S3Store("no-such-bucket", "", s3_client).list())


def test_open_store_url_forms_pick_adapter(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    assert isinstance(open_store(tmp_path.as_uri()), LocalStore)
    store = open_store("s3://bucket/some/prefix/")
    assert isinstance(store, S3Store) and store.url == "s3://bucket/some/prefix/"
    with pytest.raises(SourceNotFoundError):
        open_store("s3:///prefix")


def test_store_fetch_reads_the_current_bytes_and_says_which_version(store: Store) -> None:
    store.write(_key(store, "v"), b"one")
    assert store.fetch(_key(store, "v")) == (b"one", None)  # a directory, an unversioned bucket
    assert store.versions() == {_key(store, "v"): []}
    with pytest.raises(ObjectNotFoundError):
        store.fetch(_key(store, "absent"))


def test_s3_store_versioned_bucket_fetches_each_version_and_lists_them_oldest_first(s3_client: Any) -> None:
    s3_client.put_bucket_versioning(Bucket="vault", VersioningConfiguration={"Status": "Enabled"})
    store = S3Store("vault", "", s3_client)
    store.write("k", b"first")
    store.write("k", b"second")
    first, second = store.versions()["k"]
    assert store.fetch("k") == (b"second", second)
    assert store.fetch("k", first) == (b"first", first)
    with pytest.raises(ObjectNotFoundError):
        store.fetch("k", "no-such-version")

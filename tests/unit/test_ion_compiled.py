"""The hot Ion modules run compiled (mypyc) where `make compiled` built them from the sources
here, and as Python otherwise — both paths tested: this suite runs compiled when they are
built (CI builds them first), and the Ion tests run again here as Python."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import qldb_dr.ion
from qldb_dr.ion import build, compiled

ION_TESTS = [
    "tests/unit/test_ion_binary.py",
    "tests/unit/test_ion_binhash.py",
    "tests/unit/test_ion_hash.py",
    "tests/unit/test_ion_text.py",
    "tests/unit/test_hashing.py",
]
ROOT = Path(__file__).resolve().parents[2]


def _which(environment: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import qldb_dr.ion, qldb_dr.ion.decoder as d; print(qldb_dr.ion.COMPILED, d.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return done.stdout.strip()


def test_compiled_modules_are_used_where_this_machine_can_build_them() -> None:
    missing = build._toolchain()
    if missing is not None:  # a machine without a compiler runs Python, and says why
        assert (
            not qldb_dr.ion.COMPILED
            and "not compiled"
            in subprocess.run(
                [sys.executable, "-m", "qldb_dr.ion.build"], capture_output=True, text=True, check=True
            ).stdout
        )
        return
    if not qldb_dr.ion.COMPILED:  # not built yet, or built from other sources: `make compiled`
        subprocess.run([sys.executable, "-m", "qldb_dr.ion.build"], check=True, capture_output=True)
    used = _which({**os.environ})
    assert used.startswith("True ") and used.endswith(".so"), used
    assert _which({**os.environ, compiled.PURE: "pure"}).endswith("decoder.py")
    # A process started from one using them (multiprocessing's spawn, Lambda's forkserver) finds
    # the real package, and the compiled modules again: nothing on sys.path shadows qldb_dr.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        (child,) = pool.map(_imported, [0])
    assert child[0] == [str(compiled.SRC / "qldb_dr")] and child[1] is True, child
    assert not [p for p in sys.path if "mypyc" in p], sys.path


def _imported(_: int) -> tuple[list[str], bool]:
    import qldb_dr

    return list(qldb_dr.__path__), qldb_dr.ion.COMPILED


def test_the_ion_tests_pass_as_python() -> None:
    environment = {**os.environ, compiled.PURE: "pure"}
    assert _which(environment).startswith("False ")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ION_TESTS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_build_from_other_sources_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.PURE, raising=False)
    path: list[str] = []
    assert not compiled.activate(path, tmp_path), "nothing built"
    record = {"sources": compiled.fingerprint(), "python": sys.implementation.cache_tag, "runtime": "absent__mypyc.so"}
    stale = {**record, "sources": {**record["sources"], "decoder": "0" * 64}}
    (tmp_path / "sources.json").write_text(json.dumps(stale))
    assert not compiled.activate(path, tmp_path), "a module changed since the build"
    (tmp_path / "sources.json").write_text(json.dumps({**record, "python": "cpython-0"}))
    assert not compiled.activate(path, tmp_path), "built for another Python"
    (tmp_path / "sources.json").write_text(json.dumps(record))
    assert not compiled.activate(path, tmp_path), "its runtime library does not load"
    assert path == [] and str(tmp_path) not in sys.path
    monkeypatch.setenv(compiled.PURE, "pure")
    assert not compiled.activate(path, compiled.BUILD)

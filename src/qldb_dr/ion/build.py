"""`python -m qldb_dr.ion.build` (`make compiled`): compile the hot Ion modules with mypyc
into build/mypyc/, when this machine can (`qldb_dr.ion.compiled` says why and how they are used)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from qldb_dr.ion.compiled import BUILD, MODULES, SRC, fingerprint

# What mypyc's type check needs to know beyond the modules themselves (amazon.ion has no types).
_MYPY_CONFIG = """[mypy]
python_version = 3.11

[mypy-amazon.*]
ignore_missing_imports = True

[mypy-setuptools.*]
ignore_missing_imports = True
"""


def _toolchain() -> str | None:
    """Why the modules cannot be compiled here, or None."""
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed (it comes with the dev extra's mypy)"
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        return f"no C compiler ({compiler.split()[0]})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "no Python headers (Python.h)"
    return None


def build() -> None:
    """Compile MODULES into BUILD (replacing what was there)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    shutil.rmtree(BUILD, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="qldb-dr-mypyc-") as work:
        config = Path(work) / "mypy.ini"
        config.write_text(_MYPY_CONFIG)
        here = Path.cwd()
        os.chdir(SRC)  # mypycify names each module by its path
        try:
            extensions = mypycify(
                ["--config-file", str(config), *(f"qldb_dr/ion/{m}.py" for m in MODULES)],
                opt_level="3",
                target_dir=str(Path(work) / "c"),
            )
            distribution = Distribution({"name": "qldb-dr-ion", "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(BUILD)
            command.build_temp = str(Path(work) / "o")
            distribution.run_command("build_ext")
        finally:
            os.chdir(here)
    runtime = next(p.name for p in BUILD.glob("*__mypyc.*"))
    record = {"sources": fingerprint(), "python": sys.implementation.cache_tag, "runtime": runtime}
    (BUILD / "sources.json").write_text(json.dumps(record, indent=2) + "\n")


def main() -> int:
    missing = _toolchain()
    if missing:
        print(f"Ion modules not compiled: {missing}; qldb-dr runs them as Python")
        return 0
    build()
    print(f"Ion modules compiled with mypyc into {BUILD.relative_to(SRC.parent)}: {', '.join(MODULES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

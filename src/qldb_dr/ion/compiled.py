"""The hot Ion modules compiled with mypyc, used when they have been built (`make compiled`).

Why: reading and hashing Ion is most of what `verify`, Partition and the local ledger spend,
and mypyc compiles these typed modules, unchanged, to C extensions about twice as fast. They
are optional: with no C compiler or Python headers, in Lambda's bundle (the sources only), or
with QLDB_DR_ION=pure, the very same modules run as Python.

`python -m qldb_dr.ion.build` builds them into build/mypyc/ at the project root with a record
of the sources they were built from. At import (`qldb_dr.ion`), `activate` puts them
first on the package's path only if every source is still the one recorded — a module edited
since its build is never run stale: the whole set then runs as Python until rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

MODULES = ("scalars", "symbols", "decoder", "encoder", "binary", "hash", "binhash")
PACKAGE = Path(__file__).resolve().parent
SRC = PACKAGE.parents[1]
BUILD = SRC.parent / "build" / "mypyc"
PURE = "QLDB_DR_ION"  # = "pure": run the Python modules even when compiled ones are built


def fingerprint(package: Path = PACKAGE) -> dict[str, str]:
    """The SHA-256 of each compiled module's source."""
    return {m: hashlib.sha256((package / f"{m}.py").read_bytes()).hexdigest() for m in MODULES}


def activate(package_path: list[str], build: Path = BUILD) -> bool:
    """Put the compiled modules first on the Ion package's `__path__` if they were built from
    the sources here; True when they will be imported."""
    if os.environ.get(PURE) == "pure":
        return False
    try:
        record = json.loads((build / "sources.json").read_text())
    except (OSError, ValueError):
        return False  # not built
    if record.get("sources") != fingerprint() or record.get("python") != sys.implementation.cache_tag:
        return False  # built from other sources, or for another Python
    # mypyc's runtime library is a top-level module the compiled ones import by name: loaded
    # from its file, not by putting build/ on sys.path — whose qldb_dr/ directory would then
    # shadow the real package as a namespace package in every process started after this one.
    name = str(record["runtime"]).split(".")[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, build / str(record["runtime"]))
        if spec is None or spec.loader is None:
            return False
        try:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except ImportError:
            return False
        sys.modules[name] = module
    package_path.insert(0, str(build / "qldb_dr" / "ion"))
    return True

"""The functions' code, built without Docker: one asset holding the handlers (`tasks/`), the
library (`qldb_dr`, less the local endpoint) and its runtime dependencies installed for the
Lambda platform.

CDK's local bundling runs `LambdaBundle.try_bundle` at synth time; it never falls back to
Docker (there may be no Docker where qldb-dr is deployed from). Dependencies are what the
project itself requires (its installed metadata, so versions are stated once, in
pyproject.toml), pinned to the versions installed beside the deployer — the versions its tests
ran — minus what only the local endpoint and the CLI use. pyqldb, amazon.ion and ionhash are
published as source only: they are built into wheels here, which must come out pure Python
(`py3-none-any`) — a compiled one would be this machine's, not Lambda's, so it is refused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from qldb_dr.workflows.manifest import RUNTIME

PROJECT = "qldb-dr"
ROOT = Path(__file__).resolve().parents[2]
# Used by the local endpoint and the CLI only, never by a task handler.
NOT_IN_LAMBDA = frozenset({"moto", "waitress", "rich"})
PLATFORM = "manylinux2014_x86_64"


class BundleError(Exception):
    """The function asset could not be built (a dependency, pip, or the project's files)."""


def requirements() -> list[str]:
    """`name==version` of every runtime dependency a handler imports."""
    found = []
    for requirement in importlib.metadata.requires(PROJECT) or []:
        if ";" in requirement and "extra ==" in requirement:
            continue
        name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
        if name.lower() in NOT_IN_LAMBDA:
            continue
        found.append(f"{name}=={importlib.metadata.version(name)}")
    return sorted(found)


def _sources() -> list[tuple[Path, Path]]:
    """The project's files the asset holds: (file, where in the asset)."""
    files = []
    for top, base in ((ROOT / "tasks", ROOT), (ROOT / "src" / "qldb_dr", ROOT / "src")):
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(base)
            if path.is_file() and "__pycache__" not in path.parts and relative.parts[:2] != ("qldb_dr", "local"):
                files.append((path, relative))
    return files


def source_hash() -> str:
    """Changes exactly when the asset would: the project's files and the pinned dependencies."""
    digest = hashlib.sha256()
    digest.update("\n".join([RUNTIME, PLATFORM, *requirements()]).encode())
    for path, relative in _sources():
        digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
        raise BundleError(f"pip {arguments[0]} failed (exit {done.returncode}):\n{tail[-2000:]}")


def bundle(output: Path) -> None:
    """Fill `output` with the functions' code: dependencies for Lambda, then the project."""
    python = RUNTIME.removeprefix("python")
    wanted = requirements()
    with tempfile.TemporaryDirectory(prefix="qldb-dr-wheels-") as wheels:
        # Wheels of every dependency: downloaded where PyPI has one, built from source where not.
        _pip("wheel", "--no-deps", "--wheel-dir", wheels, *wanted)
        for wheel in Path(wheels).glob("*.whl"):
            tag = wheel.name.removesuffix(".whl").split("-")[-3:]
            if tag[1:] != ["none", "any"] and PLATFORM not in tag[2] and "manylinux" not in tag[2]:
                raise BundleError(
                    f"{wheel.name} is built for this machine ({'-'.join(tag)}), not for Lambda ({PLATFORM})"
                )
        _pip(
            "install",
            "--target",
            str(output),
            "--platform",
            PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            python,
            "--only-binary=:all:",
            "--no-compile",
            "--find-links",
            wheels,
            *wanted,
        )
    for path, relative in _sources():
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    shutil.rmtree(output / "bin", ignore_errors=True)  # console scripts of the dependencies
    # amazon.ion's source distribution carries ion-c libraries prebuilt for some Linux, for a C
    # extension its pure-Python wheel does not have: dead weight, and not built for Lambda.
    shutil.rmtree(output / "amazon" / "ion" / "ion-c-build", ignore_errors=True)


@jsii.implements(ILocalBundling)
class LambdaBundle:
    """CDK's local bundling hook."""

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        bundle(Path(output_dir))
        return True


def code() -> lambda_.Code:
    """The asset every function runs (one upload, one hash)."""
    return lambda_.Code.from_asset(
        str(ROOT / "tasks"),  # nominal: local bundling writes the whole asset itself
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("qldb-dr-never-uses-docker"),  # required, never pulled
            local=LambdaBundle(),
        ),
    )

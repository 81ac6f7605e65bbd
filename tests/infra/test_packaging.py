"""The functions' asset, built as `cdk synth` builds it (pip for the Lambda platform, no Docker),
holds everything a handler imports and nothing of the local endpoint: every handler of the
manifest imports from the asset alone, in a clean interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qldb_dr.workflows.manifest import FUNCTIONS

pytestmark = pytest.mark.slow

PROBE = """
import importlib, json, sys
stdlib = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
sys.path[:] = [sys.argv[1], *stdlib]
loaded = {}
for handler in json.loads(sys.argv[2]):
    module, _, name = handler.rpartition(".")
    loaded[handler] = callable(getattr(importlib.import_module(module), name))
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qldb_dr_infra.packaging import bundle

    output = tmp_path_factory.mktemp("asset")
    bundle(output)
    return output


def test_every_handler_imports_from_the_asset_alone_in_a_clean_interpreter(asset: Path) -> None:
    handlers = sorted({function.handler for function in FUNCTIONS})
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(asset), json.dumps(handlers)],
        capture_output=True,
        text=True,
        check=False,
        cwd=asset,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout)
    assert probe["loaded"] == dict.fromkeys(handlers, True)
    loaded = {name.split(".")[0] for name in probe["modules"]}
    assert {"pyqldb", "amazon", "ionhash", "boto3", "aws_lambda_powertools"} <= loaded | {
        p.name for p in asset.iterdir()
    }
    assert not {"moto", "waitress", "rich"} & loaded


def test_the_asset_holds_no_local_endpoint_and_no_compiled_dependency(asset: Path) -> None:
    assert (asset / "tasks").is_dir() and (asset / "qldb_dr").is_dir()
    assert not (asset / "qldb_dr" / "local").exists()
    assert not (asset / "moto").exists() and not (asset / "bin").exists()
    compiled = [p.relative_to(asset) for p in asset.rglob("*.so")]
    assert not compiled, f"built for this machine, not for Lambda: {compiled}"

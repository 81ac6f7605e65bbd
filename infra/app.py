#!/usr/bin/env python3
"""The qldb-dr CDK app: both stacks from the `qldb-dr` context (cdk.json). It only instantiates;
everything it deploys is in qldb_dr_infra/ and, above all, in qldb_dr.workflows.manifest."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import qldb_dr  # noqa: F401
except ImportError:
    sys.exit(
        "qldb-dr is not installed for this Python: run cdk with the project's venv first on PATH "
        "(python3 -m venv .venv && .venv/bin/pip install -e '.[infra]'; PATH=$PWD/.venv/bin:$PATH)"
    )

import aws_cdk as cdk

from qldb_dr_infra.app import build

app = cdk.App()
build(app)
app.synth()

"""`qldb-dr verify`, run in-process as a user would run it."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from qldb_dr.cli.main import Environment, main
from qldb_dr.journal.models import Block, OutputFormat
from qldb_dr.journal.synthetic import write_vault
from qldb_dr.store.local import LocalStore
from tests.conftest import REPO

SAMPLE = REPO / "examples" / "sample-vault"


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def test_cli_verify_shipped_sample_every_check_ok() -> None:
    code, out, err = run("verify", str(SAMPLE))
    assert code == 0, out + err
    for name in ("manifest", "block-hashes", "revision-hashes", "chain", "continuity", "digest-proof"):
        assert f"{name}" in out
    assert "FAILURE" not in out and "WARNING" not in out
    assert "VERIFIED: all 8 checks OK" in out


def test_cli_verify_tampered_copy_exit_1_names_block(tmp_path: Path) -> None:
    copy = tmp_path / "vault"
    shutil.copytree(SAMPLE, copy)
    target = sorted(copy.rglob("*.40-79.ion"))[0]
    text = target.read_text()
    assert "PendingPenaltyTicketAmount:" in text
    start = text.index("LicensePlateNumber:") + len('LicensePlateNumber:"')
    target.write_text(text[:start] + ("Z" if text[start] != "Z" else "Y") + text[start + 1 :])
    code, out, _ = run("verify", str(copy))
    assert code == 1
    assert "revision-hashes  FAILURE  block 4" in out
    assert "revision hash does not match" in out
    assert "FAILED: revision-hashes" in out


def test_cli_verify_json_output_documented_shape(tmp_path: Path) -> None:
    code, out, _ = run("verify", str(SAMPLE), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["status"] == "OK" and report["ledgerName"] == "sample-ledger"
    assert [c["name"] for c in report["checks"]] == [
        "manifest",
        "block-hashes",
        "revision-hashes",
        "block-fields",
        "redactions",
        "chain",
        "continuity",
        "digest-proof",
    ]
    assert {"exportId", "firstBlock", "lastBlock", "objects", "blocks", "revisions"} <= set(report["exports"][0])
    assert report["counts"]["blocks"] == sum(e["blocks"] for e in report["exports"])


def test_cli_verify_json_failure_lists_finding_address(tmp_path: Path, journal: list[Block]) -> None:
    store = LocalStore(tmp_path)
    write_vault(store, journal, ledger_name="L", exports=2, output_format=OutputFormat.ION_TEXT)
    victim = next(k for k in store.list() if k.endswith(".ion"))
    store.write(victim, store.read(victim).replace(b"State:WA", b"State:OR", 1))
    code, out, _ = run("verify", str(tmp_path), "--json")
    assert code == 1
    failed = [c for c in json.loads(out)["checks"] if c["status"] == "FAILURE"]
    assert failed[0]["name"] == "revision-hashes"
    assert failed[0]["findings"][0]["blockAddress"]["sequenceNo"] >= 0
    assert failed[0]["findings"][0]["expected"] != failed[0]["findings"][0]["found"]


def test_cli_verify_missing_source_exit_2_one_line(tmp_path: Path) -> None:
    code, out, err = run("verify", str(tmp_path / "nothing-here"))
    assert code == 2 and out == ""
    assert err.startswith("qldb-dr: error: ") and "no QLDB exports here" in err
    assert "Traceback" not in err


def test_cli_verify_bad_ion_names_file_no_traceback(tmp_path: Path, journal: list[Block]) -> None:
    store = LocalStore(tmp_path)
    write_vault(store, journal, ledger_name="L", exports=1, output_format=OutputFormat.ION_BINARY)
    victim = next(k for k in store.list() if k.endswith(".ion"))
    store.write(victim, store.read(victim)[:-40])
    code, out, err = run("verify", str(tmp_path))
    assert code == 1 and "Traceback" not in out + err
    assert victim in out and "malformed Ion binary" in out


def test_cli_verify_bad_manifest_names_file(tmp_path: Path, journal: list[Block]) -> None:
    store = LocalStore(tmp_path)
    write_vault(store, journal, ledger_name="L", exports=1)
    manifest = next(k for k in store.list() if k.endswith(".completed.manifest"))
    store.write(manifest, b"{keys: [unterminated")
    code, out, err = run("verify", str(tmp_path))
    assert code == 1 and manifest in out and "Traceback" not in out + err


def test_cli_verify_debug_shows_traceback(tmp_path: Path) -> None:
    code, _, err = run("--debug", "verify", str(tmp_path / "nothing-here"))
    assert code == 2 and "Traceback" in err


def test_cli_usage_error_exit_2_usage_on_stderr() -> None:
    code, out, err = run("verify")
    assert code == 2 and out == ""
    assert "usage: qldb-dr verify" in err and "SOURCE" in err


def test_cli_version_exit_0() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("qldb-dr ")

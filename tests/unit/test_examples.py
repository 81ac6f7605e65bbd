"""The sample vault in examples/ is exactly what the generator makes: never hand-edited."""

from __future__ import annotations

from pathlib import Path

from qldb_dr.journal.synthetic import main as generate
from tests.conftest import REPO


def test_examples_sample_vault_matches_generator_byte_for_byte(tmp_path: Path) -> None:
    shipped = REPO / "examples" / "sample-vault"
    generate([str(tmp_path)])
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    kept = {p.relative_to(shipped): p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    assert made.keys() == kept.keys()
    assert [k for k in made if made[k] != kept[k]] == []

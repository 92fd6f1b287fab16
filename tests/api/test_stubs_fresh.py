"""The committed stubs in cdp/api are exactly what protos/ generates."""

from __future__ import annotations

import filecmp
from pathlib import Path

from cdp.platform.protogen import API, generate


def test_generated_stubs_are_not_stale(tmp_path: Path):
    generate(tmp_path)
    fresh = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(API) for p in API.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert fresh == committed, "stubs out of date: run `make protos`"
    stale = [str(p) for p in sorted(fresh) if not filecmp.cmp(tmp_path / p, API / p, shallow=False)]
    assert not stale, f"stubs differ from protos/: {stale}; run `make protos`"

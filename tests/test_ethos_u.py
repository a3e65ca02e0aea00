"""benchmarks/ethos_u.py: the committed Ethos-U55 estimates are what Vela gives for the bundled
-micro files (when the same Vela version is installed: the `npu` extra)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

import sernet_edge  # noqa: F401  (the installed package first)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def committed() -> Path:
    return sorted((REPO / "benchmarks" / "results").glob("ethos-u55-*.json"))[-1]


def test_the_committed_estimates_cover_the_family_on_both_npus():
    r = json.loads(committed().read_text())
    assert [m["short"] for m in r["models"]] == ["multi-micro", "multi-s-micro", "multi-xs-micro"]
    for m in r["models"]:
        assert [a["accelerator"] for a in m["runs"]] == ["ethos-u55-128", "ethos-u55-256"]
        for a in m["runs"]:
            assert a["cycles_per_window"] > 0 and a["sram_used_bytes"] > 0 and a["flash_used_bytes"] > 0
    assert not r["uncommitted_changes"]


@pytest.mark.skipif(importlib.util.find_spec("ethosu") is None, reason="ethos-u-vela not installed (the npu extra)")
def test_vela_reproduces_the_committed_estimates(tmp_path):
    from benchmarks import ethos_u
    r = json.loads(committed().read_text())
    version = ethos_u.vela_version(ethos_u.vela_exe())
    if version != r["vela_version"]:
        pytest.skip(f"Vela {version} installed, the result is Vela {r['vela_version']}'s")
    assert ethos_u.main(["--out", str(tmp_path / "e.json")]) == 0
    fresh = json.loads((tmp_path / "e.json").read_text())
    assert fresh["models"] == r["models"]
    assert "Estimates, not measurements" in (tmp_path / "e.md").read_text()

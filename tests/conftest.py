"""Shared fixtures: bundled CC0 clips, the full EMO-DB when present, small corpora on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO / "sernet_edge" / "clips"
SHARED_EMODB = Path(os.environ.get("SERNET_EMODB", REPO.parent / "shared" / "data" / "emodb"))


def bundled_clip_paths() -> list[Path]:
    return sorted(CLIPS.glob("*.wav"))


@pytest.fixture(scope="session")
def clips() -> list[Path]:
    paths = bundled_clip_paths()
    assert len(paths) == 7, "the repo ships seven CC0 EMO-DB clips in sernet_edge/clips"
    return paths


@pytest.fixture(scope="session")
def emodb_full() -> Path:
    if not (SHARED_EMODB / "wav").is_dir():
        pytest.skip(f"full EMO-DB not found at {SHARED_EMODB} (set SERNET_EMODB to its folder)")
    return SHARED_EMODB


@pytest.fixture
def mini_emodb(tmp_path, clips) -> Path:
    """The seven bundled clips as an EMO-DB folder: 6 speakers, 7 emotions."""
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for p in clips:
        shutil.copy(p, root / "wav" / p.name)
    return root

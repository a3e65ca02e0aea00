"""Shared fixtures: bundled CC0 clips, the full EMO-DB when present, small corpora on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO / "sernet_edge" / "clips"
SHARED_EMODB = Path(os.environ.get("SERNET_EMODB", REPO.parent / "shared" / "data" / "emodb"))
# CREMA-D's audio is not in ../shared (only its metadata): point SERNET_CREMA_D at a copy
SHARED_CREMA_D = REPO.parent / "shared" / "data" / "crema-d"
CREMA_D = Path(os.environ.get("SERNET_CREMA_D", SHARED_CREMA_D))


def write_crema_votes(path: Path, votes: dict) -> Path:
    """A CREMA-D summaryTable.csv: clip name -> voice-only vote ("N", ties "N:S")."""
    import csv
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["", "FileName", "VoiceVote", "VoiceLevel", "FaceVote", "FaceLevel",
                    "MultiModalVote", "MultiModalLevel"])
        for i, (name, vote) in enumerate(votes.items(), 1):
            w.writerow([i, name, vote, "60", "A", "50", vote, "55"])
    return path


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


@pytest.fixture(scope="session")
def crema_full() -> Path:
    if not any(CREMA_D.glob("**/1001_DFA_ANG_XX.wav")):
        pytest.skip(f"CREMA-D audio not found at {CREMA_D} (set SERNET_CREMA_D to the folder "
                    "of its 7,442 WAV files; ../shared holds only its metadata)")
    return CREMA_D


@pytest.fixture
def mini_emodb(tmp_path, clips) -> Path:
    """The seven bundled clips as an EMO-DB folder: 6 speakers, 7 emotions."""
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for p in clips:
        shutil.copy(p, root / "wav" / p.name)
    return root


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, clips):
    """A Light-SERNet fitted to the seven bundled clips (3 s input), saved as Keras and
    exported to float32 and full int8 TFLite with embedded cards. Needs TensorFlow."""
    pytest.importorskip("tensorflow", reason="building test models needs the [train] extra")
    import keras
    import numpy as np

    from sernet_edge.audio import load_audio
    from sernet_edge.card import new_card
    from sernet_edge.corpora import load_emodb
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.train.convert import export
    from sernet_edge.train.model import build_model

    root = tmp_path_factory.mktemp("tiny")
    corpus = load_emodb(CLIPS)
    cfg = FeatureConfig(seconds=3.0)
    X = np.stack([extract(load_audio(it.path), cfg) for it in corpus.items])[..., None]
    y = np.array([corpus.label_index(it.label) for it in corpus.items])
    keras.utils.set_random_seed(0)
    model = build_model(cfg.input_shape, len(corpus.labels))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(X, y, epochs=150, batch_size=7, verbose=0)  # BN moving stats need ~150 steps
    model.save(root / "model.keras")
    card = new_card(corpus.labels, cfg, "keras", source={"corpus": "bundled clips"})
    (root / "card.json").write_text(__import__("json").dumps(card))
    paths = export(model, card, root / "out", precisions=("float32", "int8"),
                   calibration=X, evaluation=(X, y), name="tiny", micro_check=False)
    tflite = {p.stem.rsplit("-", 1)[-1]: p for p in paths if p.suffix == ".tflite"}
    return {"keras": model, "X": X, "y": y, "labels": corpus.labels, "dir": root,
            "float32": tflite["float32"], "int8": tflite["int8"], "items": corpus.items}

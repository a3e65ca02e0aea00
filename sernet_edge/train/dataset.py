"""Model inputs for a corpus, computed with the project's numpy front end and cached on disk.

The cache key is the feature settings plus the sha256 of each file's bytes, so a second
run (or another fold, or the converter's calibration) never recomputes a feature.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from sernet_edge.audio import load_audio
from sernet_edge.corpora import Corpus
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import atomic_path, make_dirs


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sernet-edge" / "features"


def config_key(config: FeatureConfig, variant: str = "") -> str:
    text = json.dumps({"features": config.to_dict(), "variant": variant}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_features(corpus: Corpus, config: FeatureConfig, cache_dir=None, variant: str = "",
                  transform=None, progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X (N, frames, n_mfcc, 1) float32, y (N,) int, speakers (N,) str) for every item.

    `variant` names a waveform `transform` (e.g. "speed0.9") applied before `extract`."""
    folder = make_dirs(Path(cache_dir or default_cache_dir()) / config_key(config, variant))
    feats = []
    items = corpus.items if progress is None else progress(corpus.items)
    for item in items:
        cached = folder / f"{file_sha256(item.path)}.npy"
        if cached.exists():
            f = np.load(cached)
        else:
            x = load_audio(item.path, config.sample_rate)
            if transform is not None:
                x = transform(x)
            f = extract(x, config)
            with atomic_path(cached, suffix=".npy") as tmp:
                np.save(tmp, f)
        feats.append(f)
    X = np.stack(feats)[..., None].astype(np.float32) if feats else \
        np.zeros((0,) + config.input_shape, np.float32)
    y = np.array([corpus.label_index(it.label) for it in corpus.items], dtype=np.int64)
    speakers = np.array([it.speaker for it in corpus.items])
    return X, y, speakers

"""EMO-DB (Burkhardt et al. 2005): 10 German actors, 7 emotions, names like 03a01Fa.wav."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item

NAME = "emodb"
ATTRIBUTION = ("Berlin Database of Emotional Speech (EMO-DB), Burkhardt et al., Interspeech 2005; "
               "CC0-1.0")
LICENCE = "CC0-1.0"
COMMERCIAL_USE = True
EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
            "F": "happiness", "T": "sadness", "N": "neutral"}
FILE = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[WLEAFTN])(?P<version>[a-z])\.wav$")
SEX = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F", "14": "F",
       "15": "M", "16": "F"}


def _wav_dir(root: Path) -> Path:
    return root / "wav" if (root / "wav").is_dir() else root


def detect(root: Path) -> bool:
    return any(FILE.match(p.name) for p in _wav_dir(root).glob("*.wav"))


def load(root, **_) -> Corpus:
    """A folder (or its wav/ subfolder) of official EMO-DB names."""
    root = Path(root)
    items = []
    for p in sorted(_wav_dir(root).glob("*.wav")):
        m = FILE.match(p.name)
        if m:
            items.append(Item(p, EMOTIONS[m["emotion"]], m["speaker"], NAME, SEX.get(m["speaker"], "")))
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

"""nEMO (Christop 2024): 9 Polish actors, 6 emotions, samples/EB0_anger_1.wav
({speaker}_{emotion}_{sentence}.wav), metadata in data.tsv. Licensed for non-commercial
use (CC BY-NC-SA 4.0): in this project a development corpus for evaluation only, never for
training, tuning or calibration."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, named_items, names_match

NAME = "nemo"
ATTRIBUTION = ("nEMO: Dataset of Emotional Speech in Polish, Christop, LREC-COLING 2024, "
               "pp. 12111-12116; CC BY-NC-SA 4.0 (non-commercial)")
LICENCE = "CC BY-NC-SA 4.0"
COMMERCIAL_USE = False
EMOTIONS = {"anger": "anger", "fear": "fear", "happiness": "happiness", "neutral": "neutral",
            "sadness": "sadness", "surprised": "surprise"}
FILE = re.compile(r"^(?P<speaker>[A-Z]{2}\d)_(?P<emotion>anger|fear|happiness|neutral|sadness"
                  r"|surprised)_(?P<sentence>\d+)\.wav$")
# data.tsv's gender column, one value per speaker
SEX = {"EB0": "F", "IC0": "F", "KD0": "F", "MK0": "F",
       "KS0": "M", "MP0": "M", "SM0": "M", "TP0": "M", "WR0": "M"}


def _samples_dir(root: Path) -> Path:
    return root / "samples" if (root / "samples").is_dir() else root


def detect(root: Path) -> bool:
    return names_match(_samples_dir(root), FILE)


def load(root, **_) -> Corpus:
    """The repository's folder (or its samples/ subfolder)."""
    root = Path(root)
    items = named_items(_samples_dir(root), FILE, lambda p, m: Item(
        p, EMOTIONS[m["emotion"]], m["speaker"], NAME, SEX.get(m["speaker"], "")))
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

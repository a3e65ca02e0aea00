"""TESS (Toronto emotional speech set): two actresses, OAF (older) and YAF (younger),
OAF_back_angry.wav; "ps" is pleasant surprise. Licensed for non-commercial use."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, named_items, names_match

NAME = "tess"
ATTRIBUTION = ("Toronto emotional speech set (TESS), Dupuis & Pichora-Fuller, 2010; "
               "CC BY-NC-ND 4.0 (non-commercial)")
LICENCE = "CC BY-NC-ND 4.0"
COMMERCIAL_USE = False
EMOTIONS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
            "neutral": "neutral", "ps": "surprise", "sad": "sadness"}
FILE = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[a-z]+)_(?P<emotion>angry|disgust|fear|happy"
                  r"|neutral|ps|sad)\.wav$", re.IGNORECASE)


def detect(root: Path) -> bool:
    return names_match(root, FILE)


def load(root, **_) -> Corpus:
    root = Path(root)
    items = named_items(root, FILE, lambda p, m: Item(p, EMOTIONS[m["emotion"].lower()],
                                                      m["speaker"].upper(), NAME, "F"))
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

"""RAVDESS (Livingstone & Russo 2018): 24 actors, 03-01-05-01-02-01-12.wav. Speech only
(vocal channel 01); odd actors are male. Licensed for non-commercial use: evaluate on it,
do not ship models trained on it."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, named_items, names_match

NAME = "ravdess"
ATTRIBUTION = ("RAVDESS, Livingstone & Russo, PLoS ONE 13(5), 2018; CC BY-NC-SA 4.0 "
               "(non-commercial)")
LICENCE = "CC BY-NC-SA 4.0"
COMMERCIAL_USE = False
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger",
            "06": "fear", "07": "disgust", "08": "surprise"}
# modality-channel-emotion-intensity-statement-repetition-actor
FILE = re.compile(r"^(?P<modality>0[123])-(?P<channel>0[12])-(?P<emotion>0[1-8])-(?P<intensity>0[12])"
                  r"-(?P<statement>0[12])-(?P<repetition>0[12])-(?P<actor>\d\d)\.wav$")


def detect(root: Path) -> bool:
    return names_match(root, FILE)


def load(root, **_) -> Corpus:
    root = Path(root)
    items = named_items(root, FILE, lambda p, m: Item(
        p, EMOTIONS[m["emotion"]], m["actor"], NAME, "M" if int(m["actor"]) % 2 else "F")
        if m["channel"] == "01" else None)     # speech only
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

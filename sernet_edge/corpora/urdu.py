"""URDU (Latif et al. 2018): 400 utterances cut from Urdu TV talk shows, 4 emotions, a
folder per emotion of SM1_F10_A010.wav: S, sex (F/M) and speaker number; F and the
speaker's file number; the emotion letter (A, H, N, S) and its count. The speaker is the
first part (SF1 and SM1 are two people). The names give 29 speakers (11 F, 18 M) where
the README counts 38 (11 F, 27 M). For research only: in this project a development
corpus for evaluation only, never for training, tuning or calibration."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, named_items, names_match

NAME = "urdu"
ATTRIBUTION = ("URDU, Latif, Qayyum, Usman & Qadir, Cross Lingual Speech Emotion Recognition: "
               "Urdu vs. Western Languages, FIT 2018, arXiv:1812.10411; research use only "
               "(non-commercial)")
LICENCE = "research use only"
COMMERCIAL_USE = False
EMOTIONS = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"}
FILE = re.compile(r"^(?P<speaker>S(?P<sex>[FM])\d+)_F\d+_(?P<emotion>[AHNS])\d+\.wav$")


def detect(root: Path) -> bool:
    return names_match(root, FILE)


def load(root, **_) -> Corpus:
    root = Path(root)
    items = named_items(root, FILE, lambda p, m: Item(p, EMOTIONS[m["emotion"]], m["speaker"], NAME,
                                                      m["sex"]))
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

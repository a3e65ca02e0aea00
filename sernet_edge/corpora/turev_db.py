"""TurEV-DB (Canpolat et al. 2020): 6 Turkish actors saying 82 words in 4 emotions, in the
repository's "Sound Source/<Emotion>/1157_kz_acik.wav" (speaker_emotion_word.wav: kz angry,
mt happy, hl sad, sk calm). Calm (sakin) is scored as neutral: the project's models have no
calm class, and an unexcited, non-emotional reading is what their neutral means. The
repository says nothing of the speakers' sex. The README licenses the corpus under CC
BY-NC-ND 4.0 (its LICENSE file is the GPL 3.0): in this project a development corpus for
evaluation only, never for training, tuning or calibration."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, named_items, names_match

NAME = "turev-db"
ATTRIBUTION = ("Turkish Emotion Voice Database (TurEV-DB), Canpolat, Ormanoglu & Zeyrek, "
               "SLTU-CCURL 2020, pp. 368-375; CC BY-NC-ND 4.0 (non-commercial, no derivatives)")
LICENCE = "CC BY-NC-ND 4.0"
COMMERCIAL_USE = False
EMOTIONS = {"kz": "anger", "mt": "happiness", "hl": "sadness", "sk": "neutral"}   # sk: calm
FILE = re.compile(r"^(?P<speaker>\d{4})_(?P<emotion>kz|mt|hl|sk)_(?P<word>[a-z0-9]+)\.wav$")
# the repository's audio; its "Model Output for Test Data" holds filtered copies of clips
SOUND = "Sound Source"


def _sound_dir(root: Path) -> Path:
    return root / SOUND if (root / SOUND).is_dir() else root


def detect(root: Path) -> bool:
    return names_match(_sound_dir(root), FILE)


def load(root, **_) -> Corpus:
    """The repository's folder (only its "Sound Source/" is read) or that folder itself."""
    root = Path(root)
    items = named_items(_sound_dir(root), FILE,
                        lambda p, m: Item(p, EMOTIONS[m["emotion"]], m["speaker"], NAME))
    return Corpus(NAME, root, sorted(EMOTIONS.values()), items)

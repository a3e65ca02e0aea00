"""IEMOCAP_full_release (Busso et al. 2008): 10 actors in 5 sessions; 4 classes, excited
merged into happiness. Speakers are the utterance's, not the dialogue's."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item
from sernet_edge.errors import CorpusError

NAME = "iemocap"
ATTRIBUTION = ("IEMOCAP, Busso et al., Language Resources and Evaluation 42(4), 2008; "
               "licensed by USC SAIL, see its release agreement")
LICENCE = "USC SAIL release agreement"
COMMERCIAL_USE = None   # the agreement decides; not stated here
LABELS = {"ang": "anger", "hap": "happiness", "exc": "happiness", "sad": "sadness", "neu": "neutral"}
# "[6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]"
LINE = re.compile(r"^\[[\d.]+\s*-\s*[\d.]+\]\s+(?P<utt>Ses\d\d[FM]_\S+)\s+(?P<cat>\w+)\s+\[")
SUBSETS = ("improvised", "scripted", "all")


def sessions(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("Session[1-9]") if (p / "dialog" / "EmoEvaluation").is_dir())


def detect(root: Path) -> bool:
    return bool(sessions(root))


def speaker(utterance: str) -> str:
    """The speaker of an utterance, not of its dialogue: Ses01F_impro01_M012 -> Ses01M."""
    return utterance[:5] + utterance.rsplit("_", 1)[-1][0]


def load(root, subset: str = "improvised", **_) -> Corpus:
    root = Path(root)
    if subset not in SUBSETS:
        raise CorpusError(f"unknown IEMOCAP subset {subset!r} (use {', '.join(SUBSETS)})")
    items = []
    for session in sessions(root):
        for ev in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
            dialog = ev.stem
            if subset == "improvised" and "_impro" not in dialog:
                continue
            if subset == "scripted" and "_script" not in dialog:
                continue
            for line in ev.read_text(errors="replace").splitlines():
                m = LINE.match(line)
                if not m or m["cat"] not in LABELS:
                    continue
                utt = m["utt"]
                wav = session / "sentences" / "wav" / dialog / f"{utt}.wav"
                if wav.is_file():
                    spk = speaker(utt)
                    items.append(Item(wav, LABELS[m["cat"]], spk, f"{NAME}-{subset}", spk[-1]))
    return Corpus(f"{NAME}-{subset}", root, sorted(set(LABELS.values())), items)

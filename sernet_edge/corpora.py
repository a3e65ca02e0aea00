"""Corpora as lists of (path, label, speaker): EMO-DB, IEMOCAP, and folder-per-label trees.

No TensorFlow here: `sernet-edge data info` and the trainer share these loaders.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sernet_edge.audio import AUDIO_EXTENSIONS
from sernet_edge.errors import CorpusError

EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
                  "F": "happiness", "T": "sadness", "N": "neutral"}
EMODB_NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[WLEAFTN])(?P<version>[a-z])\.wav$")

IEMOCAP_LABELS = {"ang": "angry", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral"}
# "[6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]"
IEMOCAP_LINE = re.compile(r"^\[[\d.]+\s*-\s*[\d.]+\]\s+(?P<utt>Ses\d\d[FM]_\S+)\s+(?P<cat>\w+)\s+\[")
IEMOCAP_SUBSETS = ("improvised", "scripted", "all")
MACOS_DEBRIS = "__MACOSX"   # a folder of ._ resource forks that macOS zips add: not recordings


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    speaker: str


@dataclass
class Corpus:
    name: str
    root: Path
    labels: list[str]          # class order: index i is output i of a model
    items: list[Item] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        return sorted({it.speaker for it in self.items})

    def label_index(self, label: str) -> int:
        return self.labels.index(label)

    def counts(self) -> dict[str, Counter]:
        return {"label": Counter(it.label for it in self.items),
                "speaker": Counter(it.speaker for it in self.items)}

    def subset(self, speakers) -> "Corpus":
        keep = set(speakers)
        return Corpus(self.name, self.root, self.labels, [it for it in self.items if it.speaker in keep])


def load_corpus(path, kind: str = "auto", subset: str = "improvised",
                speaker_pattern: str | None = None) -> Corpus:
    """Load a corpus folder; `kind` is auto, emodb, iemocap or folder."""
    root = Path(path)
    if not root.exists():
        raise CorpusError(f"{root}: no such folder")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder (a corpus is a folder of audio files)")
    if kind == "auto":
        kind = detect_kind(root)
    loaders = {"emodb": lambda: load_emodb(root),
               "iemocap": lambda: load_iemocap(root, subset),
               "folder": lambda: load_folder(root, speaker_pattern)}
    if kind not in loaders:
        raise CorpusError(f"unknown corpus type {kind!r} (use auto, emodb, iemocap or folder)")
    corpus = loaders[kind]()
    if not corpus.items:
        raise CorpusError(f"{root}: no labelled audio files found for a {kind} corpus")
    return corpus


def detect_kind(root: Path) -> str:
    if _iemocap_sessions(root):
        return "iemocap"
    if any(EMODB_NAME.match(p.name) for p in _emodb_dir(root).glob("*.wav")):
        return "emodb"
    if any(p.is_dir() for p in root.iterdir()):
        return "folder"
    raise CorpusError(f"{root}: not an EMO-DB, IEMOCAP or folder-per-label corpus")


# ---- EMO-DB ----

def _emodb_dir(root: Path) -> Path:
    return root / "wav" if (root / "wav").is_dir() else root


def load_emodb(root) -> Corpus:
    """EMO-DB: a folder (or its wav/ subfolder) of official names like 03a01Fa.wav."""
    root = Path(root)
    items = []
    for p in sorted(_emodb_dir(root).glob("*.wav")):
        m = EMODB_NAME.match(p.name)
        if m:
            items.append(Item(p, EMODB_EMOTIONS[m["emotion"]], m["speaker"]))
    labels = sorted(EMODB_EMOTIONS.values())
    return Corpus("emodb", root, labels, items)


# ---- IEMOCAP ----

def _iemocap_sessions(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("Session[1-9]") if (p / "dialog" / "EmoEvaluation").is_dir())


def iemocap_speaker(utterance: str) -> str:
    """The speaker of an utterance, not of its dialogue: Ses01F_impro01_M012 -> Ses01M."""
    gender = utterance.rsplit("_", 1)[-1][0]
    return utterance[:5] + gender


def load_iemocap(root, subset: str = "improvised") -> Corpus:
    """IEMOCAP_full_release: 4 classes (excited merged into happy), by subset of dialogues."""
    root = Path(root)
    if subset not in IEMOCAP_SUBSETS:
        raise CorpusError(f"unknown IEMOCAP subset {subset!r} (use {', '.join(IEMOCAP_SUBSETS)})")
    items = []
    for session in _iemocap_sessions(root):
        for ev in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
            dialog = ev.stem
            if subset == "improvised" and "_impro" not in dialog:
                continue
            if subset == "scripted" and "_script" not in dialog:
                continue
            for line in ev.read_text(errors="replace").splitlines():
                m = IEMOCAP_LINE.match(line)
                if not m or m["cat"] not in IEMOCAP_LABELS:
                    continue
                utt = m["utt"]
                wav = session / "sentences" / "wav" / dialog / f"{utt}.wav"
                if wav.is_file():
                    items.append(Item(wav, IEMOCAP_LABELS[m["cat"]], iemocap_speaker(utt)))
    labels = ["angry", "happy", "neutral", "sad"]
    return Corpus(f"iemocap-{subset}", root, labels, items)


# ---- folder per label ----

def load_folder(root, speaker_pattern: str | None = None) -> Corpus:
    """root/<label>/**/<audio>; speaker from `speaker_pattern` (a regex on the file name whose
    group `speaker`, or else group 1, or else the whole match, is the speaker), or "unknown"
    for every file otherwise. Hidden files and folders (._x.wav, .cache/) and __MACOSX/ are
    skipped."""
    root = Path(root)
    regex = None
    if speaker_pattern:
        try:
            regex = re.compile(speaker_pattern)
        except re.error as e:
            raise CorpusError(f"bad --speaker-pattern {speaker_pattern!r}: {e}") from None
    items = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p, root)):
        for p in sorted(label_dir.rglob("*")):
            if p.suffix.lower() not in AUDIO_EXTENSIONS or not p.is_file() or not _visible(p, root):
                continue
            speaker = "unknown"
            if regex:
                m = regex.search(p.name)
                if not m:
                    raise CorpusError(f"{p}: file name does not match --speaker-pattern {speaker_pattern!r}")
                speaker = m.groupdict().get("speaker") or (m.group(1) if m.groups() else m.group(0))
            items.append(Item(p, label_dir.name, speaker))
    labels = sorted({it.label for it in items})
    return Corpus(root.name or "folder", root, labels, items)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") or part == MACOS_DEBRIS for part in path.relative_to(root).parts)

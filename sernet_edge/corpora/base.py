"""What every corpus layout returns: items of (path, label, speaker), and the one emotion
vocabulary that every layout maps its own label names onto."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sernet_edge.audio import AUDIO_EXTENSIONS

# The shared vocabulary. Layouts map their codes onto these names so that corpora combine.
EMOTIONS = ("anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness",
            "surprise")

# Common spellings of the same emotions (folder names, other corpora's words).
ALIASES = {
    "ang": "anger", "angry": "anger", "anger": "anger", "mad": "anger",
    "bor": "boredom", "bored": "boredom", "boredom": "boredom",
    "calm": "calm",
    "dis": "disgust", "disgust": "disgust", "disgusted": "disgust",
    "fea": "fear", "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "hap": "happiness", "happy": "happiness", "happiness": "happiness", "joy": "happiness",
    "neu": "neutral", "neutral": "neutral",
    "sad": "sadness", "sadness": "sadness",
    "sur": "surprise", "surprise": "surprise", "surprised": "surprise", "ps": "surprise",
    "pleasant_surprise": "surprise", "pleasant_surprised": "surprise",
}


def to_vocabulary(name: str) -> str:
    """The shared name of a label, or the name itself (lower-cased) if it is not an emotion
    this project knows: a folder corpus may have labels of its own."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    speaker: str
    corpus: str = ""
    sex: str = ""             # "F", "M" or "" when the layout does not say


@dataclass
class Corpus:
    name: str
    root: Path
    labels: list[str]          # class order: index i is output i of a model
    items: list[Item] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)   # the corpora a union was made of

    @property
    def speakers(self) -> list[str]:
        return sorted({it.speaker for it in self.items})

    @property
    def corpora(self) -> list[str]:
        return sorted({it.corpus for it in self.items})

    def label_index(self, label: str) -> int:
        return self.labels.index(label)

    def counts(self) -> dict[str, Counter]:
        return {"label": Counter(it.label for it in self.items),
                "speaker": Counter(it.speaker for it in self.items),
                "corpus": Counter(it.corpus for it in self.items)}

    def speaker_sex(self) -> dict[str, str]:
        return {it.speaker: it.sex for it in self.items}

    def speaker_corpus(self) -> dict[str, str]:
        return {it.speaker: it.corpus for it in self.items}

    def subset(self, speakers) -> "Corpus":
        keep = set(speakers)
        return Corpus(self.name, self.root, self.labels,
                      [it for it in self.items if it.speaker in keep], list(self.parts))


def audio_names(root: Path, limit: int | None = None) -> list[str]:
    """File names of audio under `root` (recursive), at most `limit`: enough to recognise a
    layout without walking a large tree."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for f in sorted(filenames):
            if Path(f).suffix.lower() in AUDIO_EXTENSIONS and not f.startswith("."):
                names.append(f)
                if limit and len(names) >= limit:
                    return names
    return names


def names_match(root: Path, pattern, sample: int = 50) -> bool:
    """Whether most of the first audio file names under `root` follow a layout's pattern."""
    names = audio_names(root, limit=sample)
    return bool(names) and sum(bool(pattern.match(n)) for n in names) > len(names) // 2


def audio_files(root: Path, suffix: str | None = None) -> list[Path]:
    """Every visible audio file under `root`, sorted; hidden files and __MACOSX/ skipped."""
    found = []
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") or part == "__MACOSX" for part in rel):
            continue
        if p.suffix.lower() in AUDIO_EXTENSIONS and (suffix is None or p.suffix.lower() == suffix) \
                and p.is_file():
            found.append(p)
    return found


def named_items(folder: Path, pattern, item) -> list[Item]:
    """A corpus whose labels and speakers are in its file names: `item(path, match)` for each
    .wav under `folder` whose name `pattern` matches (an item of None leaves the file out)."""
    found = []
    for p in audio_files(folder, ".wav"):
        m = pattern.match(p.name)
        it = item(p, m) if m else None
        if it is not None:
            found.append(it)
    return found

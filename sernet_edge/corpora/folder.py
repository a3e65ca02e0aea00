"""Any corpus laid out as root/<label>/**/<audio>. Label folder names that are spellings of
a known emotion (angry, happy, sad, ...) become the shared name; others stay as they are.
The speaker comes from a regex on the file name (`speaker_pattern`), or is "unknown"."""

from __future__ import annotations

import re
from pathlib import Path

from sernet_edge.audio import AUDIO_EXTENSIONS
from sernet_edge.corpora.base import Corpus, Item, to_vocabulary
from sernet_edge.errors import CorpusError

NAME = "folder"
ATTRIBUTION = None   # the user's own corpus: its licence is theirs to state
LICENCE = None
COMMERCIAL_USE = None
MACOS_DEBRIS = "__MACOSX"   # a folder of ._ resource forks that macOS zips add: not recordings


def detect(root: Path) -> bool:
    return any(p.is_dir() and _visible(p, root) for p in root.iterdir())


def load(root, speaker_pattern: str | None = None, **_) -> Corpus:
    """Group `speaker` of the pattern, or else group 1, or else the whole match, is the
    speaker. Hidden files and folders (._x.wav, .cache/) and __MACOSX/ are skipped."""
    root = Path(root)
    regex = None
    if speaker_pattern:
        try:
            regex = re.compile(speaker_pattern)
        except re.error as e:
            raise CorpusError(f"bad --speaker-pattern {speaker_pattern!r}: {e}") from None
    name = root.name or NAME
    items = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p, root)):
        label = to_vocabulary(label_dir.name)
        for p in sorted(label_dir.rglob("*")):
            if p.suffix.lower() not in AUDIO_EXTENSIONS or not p.is_file() or not _visible(p, root):
                continue
            speaker = "unknown"
            if regex:
                m = regex.search(p.name)
                if not m:
                    raise CorpusError(f"{p}: file name does not match --speaker-pattern {speaker_pattern!r}")
                speaker = m.groupdict().get("speaker") or (m.group(1) if m.groups() else m.group(0))
            items.append(Item(p, label, speaker, name))
    return Corpus(name, root, sorted({it.label for it in items}), items)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") or part == MACOS_DEBRIS for part in path.relative_to(root).parts)

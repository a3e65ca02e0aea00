"""Corpora as lists of (path, label, speaker), one module per layout, and their union.

Each layout module has NAME, ATTRIBUTION (citation and licence), LICENCE, COMMERCIAL_USE
(True, False, or None when unknown), `detect(root) -> bool` and `load(root, **options) ->
Corpus`; a new corpus is one new module added to LAYOUTS. Every layout maps its own label
names onto the shared vocabulary in `base.EMOTIONS`, so corpora combine. No TensorFlow here:
`data info`, `evaluate` and the trainer share these loaders.
"""

from __future__ import annotations

from pathlib import Path

from sernet_edge.corpora import crema_d, emodb, folder, iemocap, nemo, ravdess, tess, turev_db, urdu
from sernet_edge.corpora.base import ALIASES, EMOTIONS, Corpus, Item, to_vocabulary
from sernet_edge.errors import CorpusError

# Detection order: specific file-name layouts first, folder-per-label last.
LAYOUTS = {m.NAME: m for m in (iemocap, emodb, crema_d, ravdess, tess, nemo, urdu, turev_db,
                                folder)}
KINDS = ("auto", *LAYOUTS)
# Development corpora: their licences forbid commercial use (TurEV-DB's also derivatives), so
# the project scores models on them and never trains, tunes or calibrates on them.
EVALUATION_ONLY = (nemo.NAME, urdu.NAME, turev_db.NAME)

# Names kept from the single-module version.
EMODB_EMOTIONS = emodb.EMOTIONS
iemocap_speaker = iemocap.speaker
load_emodb = emodb.load
load_iemocap = iemocap.load
load_folder = folder.load

__all__ = ["ALIASES", "EMOTIONS", "KINDS", "LAYOUTS", "Corpus", "Item", "detect_kind",
           "load_corpus", "load_corpora", "to_vocabulary", "union", "attribution", "licence",
           "non_commercial", "EVALUATION_ONLY"]


def load_corpus(path, kind: str = "auto", subset: str = "improvised",
                speaker_pattern: str | None = None, label_source: str = "intended",
                votes=None) -> Corpus:
    """Load a corpus folder; `kind` is auto or one of LAYOUTS."""
    root = Path(path)
    if not root.exists():
        raise CorpusError(f"{root}: no such folder")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder (a corpus is a folder of audio files)")
    if kind == "auto":
        kind = detect_kind(root)
    if kind not in LAYOUTS:
        raise CorpusError(f"unknown corpus type {kind!r} (use {', '.join(KINDS)})")
    corpus = LAYOUTS[kind].load(root, subset=subset, speaker_pattern=speaker_pattern,
                                label_source=label_source, votes=votes)
    if not corpus.items:
        raise CorpusError(f"{root}: no labelled audio files found for a {kind} corpus")
    return corpus


def detect_kind(root: Path) -> str:
    root = Path(root)
    for name, layout in LAYOUTS.items():
        if layout.detect(root):
            return name
    raise CorpusError(f"{root}: layout not recognised (expected one of: EMO-DB, IEMOCAP, CREMA-D, "
                      "RAVDESS, TESS, nEMO, URDU, TurEV-DB file names, or a folder per label)")


def layout_of(corpus_name: str):
    """The layout module of a corpus by its name (e.g. "crema-d-agreed" -> crema_d), or None
    (a folder corpus is named after its folder)."""
    for name, layout in LAYOUTS.items():
        if corpus_name == name or corpus_name.startswith(name + "-"):
            return layout
    return None


def attribution(corpus_name: str) -> str | None:
    """Citation and licence of a corpus by its name."""
    layout = layout_of(corpus_name)
    return layout.ATTRIBUTION if layout else None


def licence(corpus_name: str) -> str | None:
    layout = layout_of(corpus_name)
    return layout.LICENCE if layout else None


def non_commercial(corpus_names) -> list[str]:
    """Those of the named corpora whose licence forbids commercial use, and with it the
    commercial use of a model trained on them."""
    return [name for name in corpus_names
            if (layout := layout_of(name)) is not None and layout.COMMERCIAL_USE is False]


def load_corpora(paths, kind: str = "auto", **options) -> list[Corpus]:
    corpora = [load_corpus(p, kind, **options) for p in paths]
    names = [c.name for c in corpora]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CorpusError(f"corpus {dup[0]} given twice")
    return corpora


def shared_labels(corpora) -> list[str]:
    """The labels every corpus has items of."""
    present = [{it.label for it in c.items} for c in corpora]
    return sorted(set.intersection(*present))


def union(corpora, labels=None) -> Corpus:
    """One corpus of several: the chosen labels (default: those all share), speakers named
    `corpus/speaker` so that two corpora's speaker "01" stay apart. A single corpus is
    returned as it is, restricted to `labels`."""
    corpora = list(corpora)
    if labels is None:
        labels = shared_labels(corpora)
        if len(labels) < 2:
            raise CorpusError("the corpora share fewer than two labels ("
                              + "; ".join(f"{c.name}: {', '.join(c.labels)}" for c in corpora)
                              + "): choose a label set with --labels")
    else:
        labels = sorted({to_vocabulary(lab) for lab in labels})
        if len(labels) < 2:
            raise CorpusError("--labels needs at least two labels")
        known = set().union(*({it.label for it in c.items} for c in corpora))
        missing = [lab for lab in labels if lab not in known]
        if missing:
            raise CorpusError(f"label {missing[0]!r} is in none of the corpora "
                              f"(they have: {', '.join(sorted(known))})")
        for c in corpora:
            if not any(it.label in labels for it in c.items):
                raise CorpusError(f"{c.name}: none of its labels ({', '.join(c.labels)}) is in "
                                  f"--labels {','.join(labels)}")
    keep = set(labels)
    if len(corpora) == 1:
        c = corpora[0]
        return Corpus(c.name, c.root, labels, [it for it in c.items if it.label in keep], [c.name])
    items = [Item(it.path, it.label, f"{c.name}/{it.speaker}", c.name, it.sex)
             for c in corpora for it in c.items if it.label in keep]
    return Corpus("+".join(c.name for c in corpora), corpora[0].root, labels, items,
                  [c.name for c in corpora])

"""Speaker-disjoint folds. Every fold has test speakers, validation speakers (taken from the
training side, never the test speakers) that choose the epoch, and training speakers.

- leave-one-speaker-out: one fold per speaker (small corpora such as EMO-DB);
- K-fold: K groups of speakers, stratified by corpus and sex (large corpora);
- leave-one-corpus-out: train on all but one corpus, test on the one left out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sernet_edge.errors import CorpusError

PROTOCOLS = ("loso", "cv", "loco")


@dataclass(frozen=True)
class Fold:
    index: int
    test: tuple[str, ...]
    val: tuple[str, ...]
    train: tuple[str, ...]
    tag: str = ""             # how the fold is named: its test speaker, its corpus, or "of05"

    @property
    def name(self) -> str:
        return f"fold{self.index:02d}-{self.tag or '+'.join(self.test)}"


def loso_folds(speakers, val_speakers: int = 1) -> list[Fold]:
    """One fold per speaker; the next `val_speakers` speakers (cyclically) choose the epoch."""
    speakers = sorted(set(speakers))
    n = len(speakers)
    if n < val_speakers + 2:
        raise CorpusError(f"leave-one-speaker-out needs at least {val_speakers + 2} speakers, "
                          f"found {n} ({', '.join(speakers) or 'none'}); for a folder corpus "
                          "give --speaker-pattern")
    folds = []
    for i, test in enumerate(speakers):
        val = tuple(speakers[(i + k) % n] for k in range(1, val_speakers + 1))
        train = tuple(s for s in speakers if s != test and s not in val)
        folds.append(Fold(i, (test,), val, train, test.replace("/", "-")))
    return folds


def _key(stratum):
    """Strata sort as themselves; a speaker without one ("") sorts apart from (corpus, sex)
    tuples instead of failing to compare with them."""
    return (type(stratum).__name__, stratum)


def _first_key(pair):
    return _key(pair[0])


def _stratified_order(speakers, strata: dict, seed: int) -> list[str]:
    """Speakers shuffled within each stratum (corpus, sex), then dealt out in turn from the
    strata, so that every prefix and every round-robin group holds each stratum in proportion."""
    rng = random.Random(seed)
    groups: dict = {}
    for s in sorted(speakers):
        groups.setdefault(strata.get(s, ""), []).append(s)
    for members in groups.values():
        rng.shuffle(members)
    # interleave by position within the stratum, scaled to [0, 1): proportional dealing
    ranked = [((i + 0.5) / len(m), _key(key), s) for key, m in sorted(groups.items(), key=_first_key)
              for i, s in enumerate(m)]
    return [s for _, _, s in sorted(ranked)]


def _deal(speakers, strata: dict, k: int, seed: int) -> list[list[str]]:
    """K groups: each stratum's speakers, shuffled, dealt round-robin, the next stratum going
    on from where the last one stopped, so that every group gets its share of each stratum
    and the group sizes differ by at most one."""
    rng = random.Random(seed)
    by_stratum: dict = {}
    for s in sorted(speakers):
        by_stratum.setdefault(strata.get(s, ""), []).append(s)
    groups: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for key in sorted(by_stratum, key=_key):
        members = by_stratum[key]
        rng.shuffle(members)
        for s in members:
            groups[turn % k].append(s)
            turn += 1
    return groups


def _take_val(train_order: list[str], n_val: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    val = tuple(sorted(train_order[:n_val]))
    return val, tuple(sorted(s for s in train_order if s not in val))


def default_val_speakers(n_train: int) -> int:
    """About one training speaker in ten, at least two, validates a K-fold or corpus fold."""
    return max(2, round(n_train / 10))


def cv_folds(speakers, k: int, strata: dict | None = None, val_speakers: int | None = None,
             seed: int = 0) -> list[Fold]:
    """K speaker-disjoint folds, stratified by `strata` (speaker -> e.g. (corpus, sex))."""
    speakers = sorted(set(speakers))
    if k < 2:
        raise CorpusError(f"--cv needs at least 2 folds, got {k}")
    if k > len(speakers):
        raise CorpusError(f"--cv {k} is more folds than speakers ({len(speakers)})")
    groups = _deal(speakers, strata or {}, k, seed)
    folds = []
    for i, test in enumerate(groups):
        rest = [s for j in range(1, k) for s in groups[(i + j) % k]]
        # the rest in stratified order again, so the validation speakers are a fair sample
        rest = _stratified_order(rest, strata or {}, seed + 1 + i)
        n_val = val_speakers or default_val_speakers(len(rest))
        if len(rest) < n_val + 1:
            raise CorpusError(f"--cv {k}: a fold keeps {len(rest)} training speakers, too few for "
                              f"{n_val} validation speaker(s)")
        val, train = _take_val(rest, n_val)
        folds.append(Fold(i, tuple(sorted(test)), val, train, f"of{k:02d}"))
    return folds


def loco_folds(speaker_corpus: dict, strata: dict | None = None, val_speakers: int | None = None,
               seed: int = 0) -> list[Fold]:
    """One fold per corpus: its speakers are the test set; validation speakers come from the
    other corpora, stratified by corpus and sex."""
    corpora = sorted(set(speaker_corpus.values()))
    if len(corpora) < 2:
        raise CorpusError("leave-one-corpus-out needs at least two corpora")
    folds = []
    for i, held in enumerate(corpora):
        test = tuple(sorted(s for s, c in speaker_corpus.items() if c == held))
        rest = _stratified_order([s for s, c in speaker_corpus.items() if c != held], strata or {},
                                 seed + i)
        n_val = val_speakers or default_val_speakers(len(rest))
        if len(rest) < n_val + 1:
            raise CorpusError(f"leave-one-corpus-out: without {held} only {len(rest)} speakers "
                              f"remain, too few for {n_val} validation speaker(s)")
        val, train = _take_val(rest, n_val)
        folds.append(Fold(i, test, val, train, held))
    return folds


def make_folds(corpus, protocol: str, k: int = 5, val_speakers: int | None = None,
               seed: int = 0) -> list[Fold]:
    """The folds of a protocol for a corpus (or union of corpora)."""
    if protocol not in PROTOCOLS:
        raise CorpusError(f"unknown protocol {protocol!r} (use {', '.join(PROTOCOLS)})")
    speakers = corpus.speakers
    if len(speakers) < 2 or speakers == ["unknown"]:
        raise CorpusError(f"{corpus.name}: {len(speakers)} speaker(s); a speaker-disjoint protocol "
                          "needs several (for a folder corpus give --speaker-pattern)")
    spk_corpus = corpus.speaker_corpus()
    sex = corpus.speaker_sex()
    strata = {s: (spk_corpus.get(s, ""), sex.get(s, "")) for s in speakers}
    if protocol == "loso":
        return loso_folds(speakers, val_speakers or 1)
    if protocol == "cv":
        return cv_folds(speakers, k, strata, val_speakers, seed)
    return loco_folds(spk_corpus, strata, val_speakers, seed)

"""Leave-one-speaker-out folds with validation speakers taken from the training speakers."""

from __future__ import annotations

from dataclasses import dataclass

from sernet_edge.errors import CorpusError


@dataclass(frozen=True)
class Fold:
    index: int
    test: tuple[str, ...]
    val: tuple[str, ...]
    train: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"fold{self.index:02d}-{'+'.join(self.test)}"


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
        folds.append(Fold(i, (test,), val, train))
    return folds

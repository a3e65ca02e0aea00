"""The training recipe: settings, learning-rate schedule, losses. Defaults are the paper's."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sernet_edge.errors import SernetError

AUGMENTATIONS = ("speed", "noise", "specaugment", "mixup")


@dataclass(frozen=True)
class Recipe:
    epochs: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-4
    decay_start: int = 50             # first epoch with a decayed rate
    decay_every: int = 20
    decay_factor: float = math.exp(-0.15)
    l2: float = 1e-6
    dropout: float = 0.3
    loss: str = "ce"                  # "ce" (cross-entropy) or "focal"
    focal_gamma: float = 2.0
    seed: int = 42
    val_speakers: int = 1             # per fold, taken from the training speakers
    select_on_test: bool = False      # also report the paper's (optimistic) test-selected epoch
    final_epochs: int = 0             # 0: median of the folds' selected epochs
    ema_decay: float = 0.0            # >0: evaluate and keep an exponential moving average of
                                      # the weights (per batch); 0 is the paper's recipe
    augment: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, path) -> dict:
        """Settings from a JSON or TOML file (a `[train]` table or top level)."""
        path = Path(path)
        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as e:
            raise SernetError(f"{path}: cannot read config ({e})") from None
        data = data.get("train", data)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names - {"features"}
        if unknown:
            raise SernetError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
        return data

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["augment"] = list(self.augment)
        return d

    def validate(self) -> None:
        if self.loss not in ("ce", "focal"):
            raise SernetError(f"unknown loss {self.loss!r} (use ce or focal)")
        bad = [a for a in self.augment if a not in AUGMENTATIONS]
        if bad:
            raise SernetError(f"unknown augmentation {bad[0]!r} (use {', '.join(AUGMENTATIONS)})")
        if not 0.0 <= self.ema_decay < 1.0:
            raise SernetError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise SernetError("epochs, batch size and learning rate must be positive")


def learning_rate(epoch: int, recipe: Recipe) -> float:
    """Constant until `decay_start`, then times `decay_factor` at decay_start, +every, ..."""
    if epoch < recipe.decay_start:
        return recipe.learning_rate
    steps = (epoch - recipe.decay_start) // recipe.decay_every + 1
    return recipe.learning_rate * recipe.decay_factor ** steps

"""The training recipe: settings, learning-rate schedule, losses. Defaults are the paper's."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sernet_edge.errors import SernetError

AUGMENTATIONS = ("speed", "noise", "channel", "short", "room", "specaugment", "mixup")
SCHEDULES = ("step", "cosine")
BALANCES = ("auto", "none", "class", "corpus", "sqrt")


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
    width: float = 1.0                # every filter count times this (1.0: the paper's network)
    loss: str = "ce"                  # "ce" (cross-entropy) or "focal"
    focal_gamma: float = 2.0
    seed: int = 42
    protocol: str = "loso"            # "loso", "cv" (K-fold over speakers) or "loco" (per corpus)
    cv: int = 5                       # K for protocol "cv"
    val_speakers: int = 0             # per fold, from the training speakers; 0: 1 for loso,
                                      # a tenth of the training speakers (at least 2) otherwise
    select_on_test: bool = False      # also report the paper's (optimistic) test-selected epoch
    final_epochs: int = 0             # 0: median of the folds' selected epochs
    ema_decay: float = 0.0            # >0: evaluate and keep an exponential moving average of
                                      # the weights (per batch); 0 is the paper's recipe
    recompute_bn: bool = False        # before each scoring and before saving, recompute the
                                      # BatchNorm statistics over the training examples for the
                                      # weights being scored (the moving averages lag weights that
                                      # move fast on a small corpus; averaged ones match no weights)
    augment: tuple[str, ...] = ()
    noise_dir: str = ""               # recorded noise (a folder of audio files) for `room`
                                      # augmentation; keep the noise you test with apart
    schedule: str = "step"            # "step": the paper's decay; "cosine": to 0 over the epochs
    balance: str = "auto"             # which examples an epoch draws: "none" (each once), "class"
                                      # (classes equally often), "corpus" (each corpus and class
                                      # equally often), "sqrt" (each corpus in proportion to the
                                      # square root of its size, each class within it equally
                                      # often); "auto": none for one corpus, else corpus
    label_smoothing: float = 0.0
    init: str = ""                    # a Keras model (another run's final/model.keras), a
                                      # fold folder of a run (folds/<fold>/) or a bundled model's
                                      # name (multi, emodb) whose weights start every fold and
                                      # the final model: layers of another shape and a
                                      # classifier for other labels start fresh
    init_shared_classes: bool = False # the classifier keeps the --init model's weights for the
                                      # classes both have (only new classes start fresh)
    freeze_init: bool = False         # layers copied whole from --init do not learn: only the
                                      # classifier does (a linear probe on the --init features)
    distill: str = ""                 # a teacher (bundled name, float .tflite, Keras model or
                                      # fold folder, as --init) whose outputs on each training
                                      # clip are mixed into that clip's target (distillation)
    distill_weight: float = 0.5       # the teacher's share of each target
    distill_temperature: float = 1.0  # > 1 softens the teacher: p^(1/T), renormalised

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
        unknown = set(data) - names - {"features", "labels"}
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
        from sernet_edge.train.folds import PROTOCOLS
        if self.protocol not in PROTOCOLS:
            raise SernetError(f"unknown protocol {self.protocol!r} (use {', '.join(PROTOCOLS)})")
        if self.val_speakers < 0:
            raise SernetError(f"--val-speakers must be >= 0, got {self.val_speakers}")
        if self.schedule not in SCHEDULES:
            raise SernetError(f"unknown schedule {self.schedule!r} (use {', '.join(SCHEDULES)})")
        if self.balance not in BALANCES:
            raise SernetError(f"unknown balance {self.balance!r} (use {', '.join(BALANCES)})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SernetError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise SernetError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if (self.freeze_init or self.init_shared_classes) and not self.init:
            raise SernetError("--freeze-init and --init-shared-classes need --init")
        _check_model_source("--init", self.init)
        _check_model_source("--distill", self.distill)
        if not 0.0 < self.distill_weight <= 1.0:
            raise SernetError(f"--distill-weight must be in (0, 1], got {self.distill_weight}")
        if not self.distill_temperature > 0:
            raise SernetError(f"--distill-temperature must be positive, got {self.distill_temperature}")
        if not 0 < self.width <= 4:
            raise SernetError(f"--width must be in (0, 4], got {self.width}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise SernetError("epochs, batch size and learning rate must be positive")


def _check_model_source(option: str, source: str) -> None:
    """A model file or fold folder that exists, or a bundled model with a float file."""
    if not source or Path(source).exists():
        return
    from sernet_edge.train import bundled
    if not bundled.is_bundled(source):
        raise SernetError(f"{option} {source}: no such model file, fold folder or "
                          f"bundled model (bundled: {', '.join(bundled.start_names())})")
    bundled.start_file(source)   # an int8-only bundled model is refused here


def learning_rate(epoch: int, recipe: Recipe, epochs: int | None = None) -> float:
    """"step": constant until `decay_start`, then times `decay_factor` at decay_start, +every,
    ...; "cosine": half a cosine from the rate down to 0 over `epochs` (default the recipe's)."""
    if recipe.schedule == "cosine":
        total = epochs or recipe.epochs
        return recipe.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / total))
    if epoch < recipe.decay_start:
        return recipe.learning_rate
    steps = (epoch - recipe.decay_start) // recipe.decay_every + 1
    return recipe.learning_rate * recipe.decay_factor ** steps

"""Score fold 0 of an EMO-DB `train` run with its weights and BatchNorm statistics taken
several ways (EMA or raw weights; moving, batch or recomputed statistics): the check behind
experiments/emodb-pretrained/emodb-pretrained/before-recompute-bn/README.md.

    python experiments/emodb-pretrained/bn_statistics_check.py RUN ../shared/data/emodb

RUN/folds/fold00-03 must hold last.keras (and ema.npz for the EMA rows). Prints the accuracy
on the validation speaker 08, the test speaker 03 and the training speaker 09.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from sernet_edge.corpora import load_corpus
from sernet_edge.features import FeatureConfig
from sernet_edge.train.dataset import load_features
from sernet_edge.train.trainer import load_ema, predict, recompute_bn

TRAIN_SPEAKERS = ["09", "10", "11", "12", "13", "14"]   # fold 0: test 03, validation 08


def accuracy(model, X, y, training: bool = False) -> float:
    # batches of 32, as in training: in training mode the batch's statistics are used
    return float((predict(model, X, training, batch_size=32).argmax(1) == y).mean())


def main(run: str, emodb: str) -> None:
    import keras
    keras.utils.set_random_seed(0)   # the training-mode row draws dropout masks
    fold = Path(run) / "folds" / "fold00-03"
    settings = json.loads((Path(run) / "settings.json").read_text())
    corpus = load_corpus(emodb)
    X, y, _ = load_features(corpus, FeatureConfig.from_dict(settings["features"]), None)
    speaker = np.array([it.speaker for it in corpus.items])
    model = keras.models.load_model(fold / "last.keras")
    raw, ema = model.get_weights(), load_ema(fold)
    train = np.isin(speaker, TRAIN_SPEAKERS)

    def row(name, weights, recompute, training=False):
        model.set_weights(weights)
        if recompute:
            recompute_bn(model, X[train])
        cells = [f"{accuracy(model, X[speaker == s], y[speaker == s], training):.3f}"
                 for s in ("08", "03", "09")]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("| weights, BN statistics | 08 (val) | 03 (test) | 09 (train) |\n|---|---:|---:|---:|")
    if ema is not None:
        row("EMA, EMA of the moving averages", ema, False)
    row("raw, Keras moving averages", raw, False)
    row("raw, the batch's own (training mode)", raw, False, training=True)
    if ema is not None:
        row("EMA, recomputed on the training speakers", ema, True)
    row("raw, recomputed on the training speakers", raw, True)


if __name__ == "__main__":
    main(*sys.argv[1:3])

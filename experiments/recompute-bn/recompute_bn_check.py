"""Rescore the finished folds of a `train` run with BatchNorm statistics recomputed on each
fold's training speakers (`train --recompute-bn` applied after the fact to the weights each
fold selected). The epoch choice stays the run's, so this measures the statistics alone.

    python experiments/recompute-bn/recompute_bn_check.py /work/runs/multi-cv /data/crema-d ../shared/data/emodb \
        --out experiments/multi-corpus/multi-cv/recompute-bn.json

Corpora are given in the same order as to `train`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sernet_edge.corpora import load_corpora, union
from sernet_edge.features import FeatureConfig
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.train.dataset import load_features
from sernet_edge.train.trainer import finished_folds, predict, recompute_bn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("corpora", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    settings = json.loads((Path(args.run) / "settings.json").read_text())
    corpus = union(load_corpora(args.corpora), settings["labels"])
    X, y, _ = load_features(corpus, FeatureConfig.from_dict(settings["features"]), None)
    speaker = np.array([it.speaker for it in corpus.items])
    labels = [str(i) for i in range(len(settings["labels"]))]
    rows = []
    for result, model in finished_folds(args.run):
        test = np.isin(speaker, result["test_speakers"])
        before = scores(y[test], predict(model, X[test]).argmax(1), labels)
        recompute_bn(model, X[np.isin(speaker, result["train"])])
        after = scores(y[test], predict(model, X[test]).argmax(1), labels)
        rows.append({"fold": result["fold"], "n": int(test.sum()), "recorded_uar": result["test"]["uar"],
                     "uar": before["uar"], "uar_recomputed_bn": after["uar"]})
        print(f"{result['fold']}: test UAR {100 * before['uar']:.2f} -> {100 * after['uar']:.2f} "
              "with recomputed BatchNorm statistics", flush=True)
    gain = [r["uar_recomputed_bn"] - r["uar"] for r in rows]
    write_json(args.out, {"run": settings, "folds": rows,
                          "mean_gain": float(np.mean(gain)) if gain else None})


if __name__ == "__main__":
    main()

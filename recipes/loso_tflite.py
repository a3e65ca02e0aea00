"""Leave-one-speaker-out scores of the converted files, not only of the Keras weights.

For every finished fold of a `sernet-edge train` run: rebuild the fold's selected weights,
convert them to float32, float16 and full int8 (calibrated on that fold's training speakers
only), and score each file on the fold's test speaker with the LiteRT interpreter.

    python recipes/loso_tflite.py /work/runs/emodb-3s ../shared/data/emodb \
        --out experiments/emodb-only/emodb-loso-tflite.json

Several corpora (a run on their union) are given in the same order as to `train`; every
score is then also given per corpus.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from sernet_edge.corpora import load_corpora, union
from sernet_edge.features import FeatureConfig
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.train.convert import (CALIBRATION_LIMIT, calibration_indices, convert_keras,
                                       evaluate_tflite)
from sernet_edge.train.dataset import load_features
from sernet_edge.train.trainer import finished_folds, predict

PRECISIONS = ("float32", "float16", "int8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="output folder of `sernet-edge train`")
    ap.add_argument("corpus", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--calibration-limit", type=int, default=CALIBRATION_LIMIT,
                    help="most training examples that calibrate full int8 (the converter's default)")
    args = ap.parse_args()

    settings = json.loads((args.run / "settings.json").read_text())
    features = FeatureConfig.from_dict(settings["features"])
    corpus = union(load_corpora(args.corpus), settings["labels"])
    X, y, spk = load_features(corpus, features)
    origin = np.array([it.corpus for it in corpus.items])
    labels = corpus.labels

    folds, pooled, pooled_origin = [], {p: ([], []) for p in ("keras", *PRECISIONS)}, []
    for r, model in finished_folds(args.run):
        train = np.isin(spk, r["train"])
        test = np.isin(spk, r["test_speakers"])
        rep = X[train][calibration_indices(int(train.sum()), args.calibration_limit)]
        row = {"fold": r["fold"], "test_speakers": r["test_speakers"], "n": int(test.sum())}
        keras_pred = predict(model, X[test]).argmax(1)
        row["keras"] = _brief(scores(y[test], keras_pred, labels))
        pooled["keras"][0].extend(y[test]); pooled["keras"][1].extend(keras_pred)
        pooled_origin.extend(origin[test])
        for precision in PRECISIONS:
            t0 = time.time()
            data = convert_keras(model, features, precision, rep if precision == "int8" else None)
            ev = evaluate_tflite(data, X[test], y[test], labels)
            row[precision] = {**_brief(ev), "bytes": len(data),
                              "per_corpus": _per_corpus(y[test], ev["pred"], origin[test], labels),
                              "agreement_with_keras": float(np.mean(ev["pred"] == keras_pred)),
                              "seconds": round(time.time() - t0, 1)}
            pooled[precision][0].extend(y[test]); pooled[precision][1].extend(ev["pred"])
        folds.append(row)
        print(r["fold"], {k: round(row[k]["uar"], 4) for k in ("keras", *PRECISIONS)}, flush=True)

    overall = {p: scores(t, q, labels) for p, (t, q) in pooled.items() if t}
    # a union's corpora pooled apart: the target "int8 within 1 point" holds per corpus
    overall_per_corpus = {p: _per_corpus(t, q, pooled_origin, labels) for p, (t, q) in pooled.items()
                          if t} if len(set(pooled_origin)) > 1 else {}
    write_json(args.out, {
        "run": str(args.run), "corpus": corpus.name, "labels": labels,
        "features": features.to_dict(), "folds": folds, "overall": overall,
        **({"overall_per_corpus": overall_per_corpus} if overall_per_corpus else {}),
        "note": "int8 calibrated on each fold's training speakers; scored on its test speaker",
        "calibration_limit": args.calibration_limit,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
    })
    for p, s in overall.items():
        print(f"{p:8s} UAR {100 * s['uar']:.2f}  WA {100 * s['wa']:.2f}  F1 {100 * s['f1']:.2f}"
              + "".join(f"  {c} {100 * v['uar']:.2f}" for c, v in overall_per_corpus.get(p, {}).items()))


def _brief(s: dict) -> dict:
    return {k: float(s[k]) for k in ("uar", "wa", "f1")}


def _per_corpus(y_true, y_pred, origin, labels) -> dict:
    y_true, y_pred, origin = (np.asarray(a) for a in (y_true, y_pred, origin))
    return {c: _brief(scores(y_true[origin == c], y_pred[origin == c], labels)) for c in sorted(set(origin))}


if __name__ == "__main__":
    main()

"""Several runs on the same folds (other seeds or settings): each alone, and the average of
their probabilities.

A leave-one-corpus-out score moves by about 12 points with the seed (docs/results.md). The
average of a few runs' probabilities is the usual remedy; if it holds, one network distilled
from it is the candidate to ship. This scores each run's fold weights (Keras) on the fold's
test speakers, then the mean of their softmax outputs.

    python experiments/seed-ensemble/seed_ensemble.py s42=/work/runs/loco-cmvn s7=/work/runs/loco-cmvn-s7 \
        /data/crema-d ../shared/data/emodb --out experiments/seed-ensemble/seed-ensemble/loco-cmvn.json

Each run's predictions must equal its recorded ones (a check on the order of the test
items). Runs may differ in their front end (each model gets its own features) but not in
their labels or test speakers.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from per_speaker import paired, uar_by_speaker    # noqa: E402  experiments/tools
from sernet_edge.audio import load_audio
from sernet_edge.corpora import load_corpora, union
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.train.trainer import fold_model, predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", nargs="+", help="NAME=RUN (two or more), then the corpora as given to train")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    runs = dict(a.split("=", 1) for a in args.items if "=" in a)
    paths = [a for a in args.items if "=" not in a]
    if len(runs) < 2:
        raise SystemExit("give two or more NAME=RUN")
    settings = {n: json.loads((Path(r) / "settings.json").read_text()) for n, r in runs.items()}
    labels = {tuple(s["labels"]) for s in settings.values()}
    if len(labels) != 1:
        raise SystemExit(f"the runs have different labels: {sorted(labels)}")
    labels = list(labels.pop())
    names = [str(i) for i in range(len(labels))]
    corpus = union(load_corpora(paths), labels)
    speaker = np.array([it.speaker for it in corpus.items])
    y = np.array([labels.index(it.label) for it in corpus.items])
    folds = sorted(set.intersection(*[{p.parent.name for p in (Path(r) / "folds").glob("*/result.json")}
                                      for r in runs.values()]))
    if not folds:
        raise SystemExit("no fold finished in every run")
    truth, spk, preds = [], [], {n: [] for n in [*runs, "ensemble"]}
    for fold in folds:
        results = {n: json.loads((Path(r) / "folds" / fold / "result.json").read_text())
                   for n, r in runs.items()}
        if len({tuple(sorted(r["test_speakers"])) for r in results.values()}) != 1:
            raise SystemExit(f"{fold}: the runs test other speakers")
        test = np.flatnonzero(np.isin(speaker, next(iter(results.values()))["test_speakers"]))
        audio = [load_audio(corpus.items[i].path) for i in test]
        features: dict[str, np.ndarray] = {}    # runs with the same front end share them
        probs = {}
        for name, run in runs.items():
            result = results[name]
            if list(y[test]) != list(result["y_true"]):
                raise SystemExit(f"{name}/{fold}: the corpora give other test items than the run")
            cfg = FeatureConfig.from_dict(settings[name]["features"])
            key = json.dumps(cfg.to_dict(), sort_keys=True)
            if key not in features:
                features[key] = np.stack([extract(x, cfg) for x in audio])[..., None]
            probs[name] = predict(fold_model(Path(run) / "folds" / fold, settings[name]), features[key])
            agree = float(np.mean(probs[name].argmax(1) == np.array(result["y_pred"])))
            if agree < 0.99:
                raise SystemExit(f"{name}/{fold}: reproduces only {agree:.3f} of the fold's answers")
        for name, p in probs.items():
            preds[name].extend(p.argmax(1))
        preds["ensemble"].extend(np.mean(list(probs.values()), axis=0).argmax(1))
        truth.extend(y[test])
        spk.extend(speaker[test])
    truth, spk = np.array(truth), np.array(spk)
    out = {"runs": runs, "folds": folds, "labels": labels, "clips": len(truth), "results": {}}
    by = {}
    for name, p in preds.items():
        s = scores(truth, np.array(p), names)
        by[name] = uar_by_speaker(truth, np.array(p), spk, names)
        out["results"][name] = {"uar": 100 * s["uar"], "wa": 100 * s["wa"], "f1": 100 * s["f1"],
                                "per_speaker_uar": by[name]}
        print(f"{name:10s} UAR {100 * s['uar']:.2f}  WA {100 * s['wa']:.2f}  F1 {100 * s['f1']:.2f}")
    diff = [by["ensemble"][k] - np.mean([by[n][k] for n in runs]) for k in by["ensemble"]]
    out["paired"] = paired(diff, "ensemble - mean of the runs")
    out["machine"] = platform.platform()
    out["date"] = time.strftime("%Y-%m-%d")
    write_json(args.out, out)


if __name__ == "__main__":
    main()

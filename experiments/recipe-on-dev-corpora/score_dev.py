"""Score every finished fold of `sernet-edge train` runs on the development corpora.

Each fold's selected weights (float Keras, as the trainer keeps them) classify the windows of
`pack_dev.py` (the windows `evaluate` makes; int8 at step 1/16) and a clip's answer is the mean
of its windows' probabilities. Writes, per run, `<out>/<run name>/dev-scores.json`: for each
fold its in-corpus test UAR (from the trainer's result file) beside the development corpora's
scores (`torch_sweep.dev_scores`: UAR of all classes and of the corpus's own classes, recall
per class, every clip's answer).

  python experiments/recipe-on-dev-corpora/score_dev.py .devdata/dev16.npz RUN... -o DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "torch-sweep"))

from torch_sweep import DevPack, dev_means, dev_scores  # noqa: E402

from sernet_edge.io import write_json  # noqa: E402
from sernet_edge.train.trainer import finished_folds, predict  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dev")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    dev = DevPack(a.dev)
    X = (dev.Xq.astype(np.float32) / dev.meta["scale"])[..., None]
    for run in map(Path, a.runs):
        settings = json.loads((run / "settings.json").read_text())
        if settings["labels"] != dev.meta["labels"]:
            raise SystemExit(f"{run}: labels {settings['labels']} differ from the pack's")
        folds = []
        for result, model in finished_folds(run):
            scores = dev_scores(dev, predict(model, X), settings["labels"])
            means = dev_means(scores)
            folds.append({"fold": result["fold"], "selected_epoch": result["selected_epoch"],
                          "val_uar": result["val_uar"], "test_uar": result["test"]["uar"],
                          "test_per_corpus": {c: s["uar"] for c, s in result["per_corpus"].items()},
                          **means, "dev": scores})
            print(f"{run.name} {result['fold']}: test {100 * result['test']['uar']:.2f}  dev "
                  f"{100 * means['dev_mean_shared']:.2f} (" + ", ".join(
                      f"{c} {100 * s['uar_shared']:.1f}" for c, s in scores.items()) + ")",
                  flush=True)
        write_json(Path(a.out) / run.name / "dev-scores.json",
                   {"run": run.name, "recipe": settings["recipe"], "folds": folds})


if __name__ == "__main__":
    main()

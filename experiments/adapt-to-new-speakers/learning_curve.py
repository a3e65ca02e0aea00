#!/usr/bin/env python3
"""Learning curve of adapting a model to a corpus it never heard: fine-tune on k of EMO-DB's
speakers, score the others.

START is a float .tflite of a model that never heard EMO-DB (the CREMA-D-only model, converted
to float16: see README.md). For each k (speakers to adapt on) a few draws of k speakers are
made, fixed by --seed; each draw trains every arm on those k speakers' clips with `--folds
none` (the final model only, for its recipe's epochs: with one to six speakers there is no
speaker to spare for choosing an epoch) and scores it on the remaining speakers, pooled and per
speaker, with the Keras model on centre crops as the trainer scores folds:

  start     START unchanged (the same test speakers, no training)
  finetune  recipes/finetune-multi.toml from START (BatchNorm folded and frozen, all
            convolutions and the classifier learn)
  probe     the same with --freeze-init: only the classifier learns
  scratch   recipes/emodb.toml from random weights on START's front end (what k speakers
            give without a start)

Every trained arm runs once per --train-seeds seed (the recipe's own seed is 42); `start`
trains nothing and runs once. Runs go to OUT/runs/k<k>-d<draw>-<arm>-s<seed>/ and resume there
(a finished final model is skipped); scores to OUT/scores/, the table to OUT/summary.{json,md}.
Speakers 15 and 16 are never used.

    python experiments/adapt-to-new-speakers/learning_curve.py /work/shared/data/emodb \\
        runs/crema-d-only/tflite/sernet-edge-crema-d-3s-float16.tflite \\
        --out runs/adapt-to-new-speakers
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[2]
SIX = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]  # CREMA-D's, in EMO-DB too
NEVER = {"15", "16"}            # EMO-DB speakers kept out of every study
ARMS = ("start", "finetune", "probe", "scratch")
RECIPES = {"finetune": REPO / "recipes" / "finetune-multi.toml",
           "probe": REPO / "recipes" / "finetune-multi.toml",
           "scratch": REPO / "recipes" / "emodb.toml"}


def draws(speakers: list[str], k: int, n: int, seed: int) -> list[tuple[str, ...]]:
    """`n` different sets of `k` speakers (all of them where fewer exist), fixed by `seed`."""
    every = list(itertools.combinations(speakers, k))
    if len(every) <= n:
        return every
    rng = np.random.default_rng(seed * 100 + k)
    return [every[i] for i in sorted(rng.choice(len(every), size=n, replace=False))]


def recipe_for(arm: str, start: str, seed: int):
    from sernet_edge.train import bundled
    from sernet_edge.train.recipe import Recipe
    settings = Recipe.from_file(RECIPES[arm])
    settings.pop("features", None)          # the front end is START's, in every arm
    settings.pop("labels", None)
    settings["augment"] = tuple(settings.get("augment") or ())
    settings.update(protocol="loso", select_on_test=False, final_epochs=0, seed=seed,
                    width=bundled.width(start, None))      # the start's network in every arm
    if arm == "scratch":
        settings.update(init="", init_shared_classes=False, freeze_init=False)
    else:
        settings.update(init=start, freeze_init=arm == "probe")
    return Recipe(**settings)


def score(model, data, labels: list[str]) -> dict:
    from sernet_edge.metrics import scores
    from sernet_edge.train.trainer import predict
    X, y, spk = data
    pred = predict(model, X).argmax(1)
    per_speaker = {s: scores(y[spk == s], pred[spk == s], labels)["uar"]
                   for s in sorted(set(spk.tolist()))}
    return {"uar": scores(y, pred, labels)["uar"], "n": int(len(y)), "per_speaker": per_speaker}


def run_arm(arm: str, start: str, seed: int, corpus, test, features, cache_dir, run_dir: Path) -> dict:
    import keras
    from sernet_edge.train import bundled, trainer
    from sernet_edge.train.dataset import load_features
    data = load_features(test, features, cache_dir)
    if arm == "start":
        return score(bundled.rebuild(start), data, corpus.labels)
    keras.backend.clear_session()
    trainer.train(corpus, features, recipe_for(arm, start, seed), run_dir, cache_dir, folds=[],
                  final=True)
    model = keras.models.load_model(run_dir / "final" / "model.keras", compile=False)
    return score(model, data, corpus.labels)


def summarise(rows: list[dict]) -> tuple[dict, str]:
    """Mean and spread over draws and seeds per k and arm, and each arm minus `start` on the
    same draw."""
    table, lines = {}, ["| k | minutes of speech | arm | runs | UAR mean | sd | minus start, mean | runs better |",
                        "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for k in sorted({r["k"] for r in rows}):
        base = {r["draw"]: r["uar"] for r in rows if r["k"] == k and r["arm"] == "start"}
        for arm in ARMS:
            mine = [r for r in rows if r["k"] == k and r["arm"] == arm]
            if not mine:
                continue
            uars = [r["uar"] for r in mine]
            gains = [r["uar"] - base[r["draw"]] for r in mine if r["draw"] in base]
            entry = {"runs": len(uars), "mean": statistics.mean(uars),
                     "adapt_minutes": statistics.mean(r["adapt_seconds"] for r in mine) / 60,
                     "sd": statistics.stdev(uars) if len(uars) > 1 else 0.0,
                     "minus_start": statistics.mean(gains) if gains and arm != "start" else None,
                     "better": sum(g > 0 for g in gains) if arm != "start" else None}
            table.setdefault(str(k), {})[arm] = entry
            gain = "" if entry["minus_start"] is None else f"{100 * entry['minus_start']:+.2f}"
            better = "" if entry["better"] is None else f"{entry['better']} of {len(gains)}"
            lines.append(f"| {k} | {entry['adapt_minutes']:.1f} | {arm} | {len(uars)} | {100 * entry['mean']:.2f} | "
                         f"{100 * entry['sd']:.2f} | {gain} | {better} |")
    return table, "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("emodb", type=Path)
    ap.add_argument("start", help="float .tflite (with its card) of a model that never heard EMO-DB")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--k", default="1,2,4,6", help="speakers to adapt on (comma-separated)")
    ap.add_argument("--draws", type=int, default=4, help="draws of k speakers per k")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seed", type=int, default=0, help="fixes the draws (not the training)")
    ap.add_argument("--train-seeds", default="42", help="training seeds of each trained arm")
    ap.add_argument("--only-draws", default="", help="run only these draw numbers (e.g. 0,1); "
                    "scores already written still count")
    ap.add_argument("--summary-only", action="store_true", help="run nothing: the table of the "
                    "scores already written")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()

    sys.path.insert(0, str(REPO))
    from sernet_edge.corpora import load_corpora, union
    from sernet_edge.features import FeatureConfig
    from sernet_edge.io import write_json
    from sernet_edge.train import bundled

    arms = [a for a in args.arms.split(",") if a]
    seeds = [int(x) for x in args.train_seeds.split(",") if x]
    only = {int(x) for x in args.only_draws.split(",") if x}
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        ap.error(f"unknown arm {unknown[0]} (use {', '.join(ARMS)})")
    if bundled.start_file(args.start) is None:
        ap.error(f"{args.start}: not a .tflite file nor a bundled model")
    card = bundled.start_card(args.start)
    if card["labels"] != SIX:
        ap.error(f"{args.start}: classes {card['labels']}, not CREMA-D's six")
    source = card.get("source") or {}
    if "emodb" in (source.get("corpora") or {}) or "emodb" in source.get("corpus", ""):
        ap.error(f"{args.start}: heard EMO-DB speakers; the curve needs a start that never did")
    features = FeatureConfig.from_dict(bundled.front_end(args.start, {}))

    emodb = union(load_corpora([args.emodb]), SIX)
    speakers = [s for s in emodb.speakers if s not in NEVER]
    emodb = emodb.subset(speakers)
    (args.out / "scores").mkdir(parents=True, exist_ok=True)
    rows = []
    for k in (int(x) for x in args.k.split(",")):
        if not 0 < k < len(speakers):
            ap.error(f"--k {k}: between 1 and {len(speakers) - 1} of {len(speakers)} speakers")
        for d, adapt in enumerate(draws(speakers, k, args.draws, args.seed)):
            test = [s for s in speakers if s not in adapt]
            adapt_set, test_set = emodb.subset(adapt), emodb.subset(test)
            adapt_seconds = round(sum(soundfile.info(str(it.path)).duration
                                      for it in adapt_set.items), 2)
            for arm in arms:
                for seed in ([None] if arm == "start" else seeds):
                    name = f"k{k}-d{d}-{arm}" + ("" if seed is None else f"-s{seed}")
                    path = args.out / "scores" / f"{name}.json"
                    if path.exists():
                        rows.append(json.loads(path.read_text()))
                        continue
                    if args.summary_only or (only and d not in only):
                        continue
                    print(f"{name}: adapt on {', '.join(adapt)}; test {', '.join(test)}", flush=True)
                    result = run_arm(arm, args.start, seed, adapt_set, test_set, features,
                                     args.cache_dir, args.out / "runs" / name)
                    row = {"k": k, "draw": d, "arm": arm, "seed": seed, "adapt": list(adapt),
                           "adapt_clips": len(adapt_set.items), "adapt_seconds": adapt_seconds,
                           "test": test, "start": args.start,
                           "start_weights_sha256": card["weights_sha256"], **result}
                    write_json(path, row)
                    rows.append(row)
                    print(f"{name}: UAR {100 * row['uar']:.2f} on {row['n']} clips", flush=True)
    table, markdown = summarise(rows)
    write_json(args.out / "summary.json", {"start": args.start, "features": features.to_dict(),
                                           "seed": args.seed, "train_seeds": seeds,
                                           "table": table})
    (args.out / "summary.md").write_text(markdown)
    print(markdown, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

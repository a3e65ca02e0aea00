"""Record the multi-corpus recipe's speaker-independent scores in the shipped cards.

    python recipes/card_add_multi.py \
        --cv experiments/multi-cmvn/multi-cv-cmvn/summary.json \
        --tflite experiments/multi-cmvn/multi-cv-cmvn/tflite.json \
        --loco experiments/multi-cmvn/multi-loco-cmvn \
        models/light-sernet-multi-3s-*.tflite

The final model trained on every speaker has no test speakers of its own; its card gets the
scores of the same recipe on held-out speakers:
- `cross_validation`: every fold of the speaker-disjoint split (`recipes/cv_summary.py`),
  pooled over all test clips, with the spread over folds;
- `cross_validation_this_file`: the folds whose weights were converted to this file's
  precision (`recipes/loso_tflite.py`; int8 calibrated on each fold's training speakers),
  pooled and per corpus beside the Keras weights' score;
- `leave_one_corpus_out`: trained on CREMA-D only, tested on the EMO-DB speakers.
Each names the seed of the runs it comes from (`seed`, read from the `settings.json` beside
the file given), which need not be the final model's (the card's `training.recipe.seed`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cv_summary import spread    # this folder, run as a script
from sernet_edge.card import read_card, sidecar_path
from sernet_edge.io import write_bytes, write_json
from sernet_edge.train.convert import finish_file

KEYS = ("uar", "wa", "f1", "n", "recall", "confusion")


def brief(s: dict) -> dict:
    return {k: s[k] for k in KEYS if k in s}


def run_seed(results: Path) -> int | None:
    """The seed of the run whose results lie in `results` (a folder, or a file in one)."""
    folder = results if results.is_dir() else results.parent
    path = folder / "settings.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("recipe", {}).get("seed")


def seed_note(seed, final_seed) -> str:
    if seed is None:
        return ""
    return f"; seed {seed}" + ("" if seed == final_seed else
                               f" (the final model's weights: seed {final_seed})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", type=Path, required=True, help="summary.json of cv_summary.py")
    ap.add_argument("--tflite", type=Path, required=True, help="output of loso_tflite.py")
    ap.add_argument("--loco", type=Path, help="results folder of a leave-one-corpus-out run")
    ap.add_argument("models", type=Path, nargs="+")
    args = ap.parse_args()

    cv = json.loads(args.cv.read_text())
    tfl = json.loads(args.tflite.read_text())
    loco = json.loads((args.loco / "report.json").read_text()) if args.loco else None
    n_folds = len(cv["folds"])
    names = [f["fold"] for f in cv["folds"]]        # fold02-of05
    total = int(names[0].rsplit("-of", 1)[1]) if "-of" in names[0] else n_folds
    split = (f"{n_folds} speaker-disjoint folds" if n_folds == total else
             f"folds {', '.join(str(int(n[4:6])) for n in names)} of {total} speaker-disjoint folds")
    converted = [f["fold"] for f in tfl["folds"]]
    seeds = {"cv": run_seed(args.cv), "tflite": run_seed(args.tflite),
             "loco": run_seed(args.loco) if args.loco else None}
    for path in args.models:
        card = read_card(path)
        precision = card["precision"]
        final_seed = card.get("training", {}).get("recipe", {}).get("seed")
        card["metrics"]["cross_validation"] = {
            "protocol": f"{split} stratified by corpus and sex; validation "
                        "speakers choose each fold's epoch; every clip scored once by the fold that "
                        "never heard its speaker, pooled; Keras weights"
                        + seed_note(seeds["cv"], final_seed),
            "seed": seeds["cv"],
            **brief(cv["pooled"]["all"]),
            "per_corpus": {c: brief(s) for c, s in cv["pooled"].items() if c != "all"},
            "uar_over_folds": cv["uar_over_folds"],
            "per_corpus_uar_over_folds": cv["per_corpus_uar_over_folds"]}
        mine = tfl["overall"][precision]
        loss = [f["keras"]["uar"] - f[precision]["uar"] for f in tfl["folds"]]
        card["metrics"]["cross_validation_this_file"] = {
            "protocol": f"folds {', '.join(converted)} of the same split, each fold's weights converted "
                        f"to {precision} (int8 calibrated on that fold's training speakers, average "
                        "pools), scored with LiteRT, pooled" + seed_note(seeds["tflite"], final_seed),
            "seed": seeds["tflite"],
            **brief(mine), "keras_uar": tfl["overall"]["keras"]["uar"],
            "uar_loss_against_keras_per_fold": spread(loss),
            "agreement_with_keras": min(f[precision]["agreement_with_keras"] for f in tfl["folds"]),
            "per_corpus_uar_per_fold": {f["fold"]: {c: s["uar"] for c, s in f[precision].get("per_corpus", {}).items()}
                                        for f in tfl["folds"]}}
        if "overall_per_corpus" in tfl:   # older loso_tflite.py files lack it
            card["metrics"]["cross_validation_this_file"]["per_corpus"] = {
                c: {**s, "keras_uar": tfl["overall_per_corpus"]["keras"][c]["uar"]}
                for c, s in tfl["overall_per_corpus"][precision].items()}
        source = card["conversion"].get("rewritten_from")
        if source:     # ship_depthwise.py: the same weights, pools rewritten
            card["metrics"]["cross_validation_this_file"]["protocol"] += (
                f"; measured with average pools ({source}): this file's pools are depthwise "
                "convolutions, see parity")
        if loco:
            card["metrics"]["leave_one_corpus_out"] = {
                "protocol": loco["protocol"] + "; trained on CREMA-D only, tested on EMO-DB, Keras weights"
                            + seed_note(seeds["loco"], final_seed),
                "seed": seeds["loco"], **brief(loco["overall"])}
        data, card = finish_file(path.read_bytes(), card, str(path))
        write_bytes(path, data)
        write_json(sidecar_path(path), card)
        print(f"{path.name}: {n_folds}-fold UAR {cv['pooled']['all']['uar']:.4f}, "
              f"this file {mine['uar']:.4f} on {len(converted)} folds")


if __name__ == "__main__":
    main()

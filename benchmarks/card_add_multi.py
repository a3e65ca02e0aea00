"""Record the multi-corpus model's speaker-independent scores in the shipped cards.

    python benchmarks/card_add_multi.py benchmarks/results/multi-explore/base \
        benchmarks/results/multi-explore/base-fold0-tflite.json \
        benchmarks/results/multi-loco/emodb models/light-sernet-multi-3s-*.tflite

The final model trained on every speaker has no test speakers of its own; its card gets the
scores of the same recipe on held-out speakers: fold 0 of the 5-fold split (Keras, and this
file's precision converted from that fold's weights), and leave-one-corpus-out (trained on
CREMA-D only, tested on the EMO-DB speakers) where that run exists.
"""

import json
import sys
from pathlib import Path

from sernet_edge.card import read_card, sidecar_path
from sernet_edge.io import write_bytes, write_json
from sernet_edge.train.convert import finish_file

KEYS = ("uar", "wa", "f1", "n", "recall")


def brief(s: dict) -> dict:
    return {k: s[k] for k in KEYS if k in s}


def main(fold_dir: str, tflite_json: str, loco_dir: str, *models: str) -> None:
    report = json.loads((Path(fold_dir) / "report.json").read_text())
    tfl = json.loads(Path(tflite_json).read_text())
    loco = Path(loco_dir) / "report.json"
    loco = json.loads(loco.read_text()) if loco.exists() else None
    for name in models:
        path = Path(name)
        card = read_card(path)
        fold = tfl["folds"][0]
        card["metrics"]["cross_validation"] = {
            "protocol": f"{report['protocol']}; fold 0 of 5 only ({report['per_fold'][0]['fold']}, "
                        f"{len(report['per_fold'][0]['test_speakers'])} test speakers), Keras weights",
            **brief(report["overall"]),
            "per_corpus": {c: brief(s) for c, s in report["per_corpus"].items()}}
        mine = fold[card["precision"]]
        card["metrics"]["cross_validation_this_file"] = {
            "protocol": "the same fold's weights converted to this precision (int8 calibrated on "
                        "that fold's training speakers), scored with LiteRT",
            **brief(mine), "n": fold["n"], "per_corpus": mine.get("per_corpus", {}),
            "agreement_with_keras": mine["agreement_with_keras"]}
        if loco:
            card["metrics"]["leave_one_corpus_out"] = {
                "protocol": loco["protocol"] + "; trained on CREMA-D only, tested on EMO-DB, Keras weights",
                **brief(loco["overall"])}
        data, card = finish_file(path.read_bytes(), card, str(path))
        write_bytes(path, data)
        write_json(sidecar_path(path), card)
        print(f"{path.name}: fold-0 UAR {mine['uar']:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])

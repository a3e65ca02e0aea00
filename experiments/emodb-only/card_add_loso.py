"""Record the leave-one-speaker-out scores of each precision in the shipped models' cards.

    python experiments/emodb-only/card_add_loso.py experiments/emodb-only/emodb-loso-tflite.json models/*.tflite
"""

import json
import sys
from pathlib import Path

from sernet_edge.card import read_card, sidecar_path
from sernet_edge.io import write_bytes, write_json
from sernet_edge.train.convert import finish_file


def main(loso_json: str, *models: str) -> None:
    loso = json.loads(Path(loso_json).read_text())
    for name in models:
        path = Path(name)
        card = read_card(path)
        s = loso["overall"][card["precision"]]
        card["metrics"]["cross_validation_this_file"] = {
            "protocol": "leave-one-speaker-out, 8 EMO-DB speakers; each fold's weights converted "
                        "to this precision (int8 calibrated on that fold's training speakers)",
            "uar": s["uar"], "wa": s["wa"], "f1": s["f1"], "n": s["n"], "recall": s["recall"]}
        data, card = finish_file(path.read_bytes(), card, str(path))
        write_bytes(path, data)
        write_json(sidecar_path(path), card)
        print(f"{path.name}: UAR {s['uar']:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])

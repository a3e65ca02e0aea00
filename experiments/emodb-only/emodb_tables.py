"""Markdown tables for docs/results.md from a training run and its TFLite scores.

    python experiments/emodb-only/emodb_tables.py /work/runs/emodb-3s experiments/emodb-only/emodb-loso-tflite.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAPER = {"uar": 94.15, "wa": 94.21, "f1": 94.16}


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def main(run: str, tflite_json: str) -> None:
    report = json.loads((Path(run) / "report.json").read_text())
    tfl = json.loads(Path(tflite_json).read_text())
    by_fold = {f["fold"]: f for f in tfl["folds"]}
    first = report.get("epochs_counted_from", 0)   # runs before it counted epochs from 0

    print("| fold | test speaker | validation | epoch chosen | n | UAR | WA | F1 | int8 UAR | "
          "epoch chosen on test (optimistic) UAR |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for f in report["per_fold"]:
        r = json.loads((Path(run) / "folds" / f["fold"] / "result.json").read_text())
        oracle = r.get("test_selected_on_test", {})
        i8 = by_fold.get(f["fold"], {}).get("int8", {})
        print(f"| {f['fold']} | {','.join(f['test_speakers'])} | {','.join(r['val'])} | "
              f"{f['selected_epoch'] + 1 - first} | {f['n']} | {pct(f['uar'])} | {pct(f['wa'])} | "
              f"{pct(f['f1'])} | {pct(i8['uar']) if i8 else '-'} | "
              f"{pct(oracle['uar']) if oracle else '-'} |")
    print()
    print("| model | selection | UAR | WA | macro F1 |")
    print("|---|---|---:|---:|---:|")
    print(f"| Light-SERNet, paper (10 speakers) | epoch chosen on the test fold | {PAPER['uar']} | "
          f"{PAPER['wa']} | {PAPER['f1']} |")
    for name, key in (("Keras", "keras"), ("TFLite float32", "float32"),
                      ("TFLite float16", "float16"), ("TFLite full int8", "int8")):
        s = tfl["overall"].get(key)
        if s:
            print(f"| {name}, this run (8 speakers) | validation speaker | {pct(s['uar'])} | "
                  f"{pct(s['wa'])} | {pct(s['f1'])} |")
    opt = report.get("selected_on_test_OPTIMISTIC")
    if opt:
        m = opt["mean_over_folds"]
        print(f"| Keras, this run, mean over folds | epoch chosen on the test speaker (optimistic) | "
              f"{pct(m['uar'])} | {pct(m['wa'])} | {pct(m['f1'])} |")
    print()
    labels = tfl["labels"]
    rec = tfl["overall"]["keras"]["recall"]
    print("| class | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for key in ("keras", "int8"):
        rec = tfl["overall"][key]["recall"]
        print(f"| recall, {key} | " + " | ".join(pct(rec.get(lab, 0)) for lab in labels) + " |")


if __name__ == "__main__":
    main(*sys.argv[1:3])

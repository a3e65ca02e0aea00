#!/usr/bin/env python3
"""Markdown table of `sernet-edge train` runs on the same folds, for choosing a recipe.

    python experiments/multi-corpus/multi_explore.py /work/runs/x-base /work/runs/x-cmvn > experiments/multi-corpus/multi-explore/README.md

For each run and fold: the epoch the validation speakers chose and their UAR, then the test
speakers' scores pooled and per corpus. The test speakers' best epoch is shown only as the
optimistic reference it is; decisions use the validation-selected figures.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def describe(settings: dict) -> str:
    r, f = settings["recipe"], settings["features"]
    parts = [f"{r['epochs']} ep", f"lr {r['learning_rate']:g} {r.get('schedule', 'step')}",
             f"EMA {r['ema_decay']:g}", f"LS {r.get('label_smoothing', 0):g}",
             f"balance {r.get('balance', 'none')}", "CMVN" if f.get("cmvn") else "no CMVN"]
    if r.get("augment"):
        parts.append("+".join(r["augment"]))
    return ", ".join(parts)


def main(runs: list[str]) -> None:
    print("| run | settings | fold | chosen epoch | val UAR | test UAR | test WA | test F1 | "
          "per corpus UAR | s/epoch | test-chosen UAR (optimistic) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for run in map(Path, runs):
        settings = json.loads((run / "settings.json").read_text())
        for result_path in sorted((run / "folds").glob("*/result.json")):
            r = json.loads(result_path.read_text())
            h = r["history"]
            secs = statistics.median([row["seconds"] for row in h[1:]]) if len(h) > 1 else None
            corpora = ", ".join(f"{c} {pct(s['uar'])} (n {s['n']})"
                                for c, s in r.get("per_corpus", {}).items())
            oracle = r.get("test_selected_on_test", {})
            print(f"| {run.name} | {describe(settings)} | {r['fold']} | {r['selected_epoch']} | "
                  f"{pct(r['val_uar'])} | {pct(r['test']['uar'])} | {pct(r['test']['wa'])} | "
                  f"{pct(r['test']['f1'])} | {corpora} | {secs:.0f} | "
                  f"{pct(oracle.get('uar'))} (epoch {oracle.get('epoch', '-')}) |")
    print("\nPer epoch (validation UAR / test UAR):\n")
    for run in map(Path, runs):
        for result_path in sorted((run / "folds").glob("*/result.json")):
            r = json.loads(result_path.read_text())
            cells = " ".join(f"{row['epoch']}:{pct(row['val_uar'])}/{pct(row.get('test_uar'))}"
                             for row in r["history"])
            print(f"- {run.name} {r['fold']}: {cells}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Summarise `torch_sweep.py` results: per setting and split, the mean +- sd over seeds, and
each setting against the recipe per held-out speaker, paired by seed.

  python experiments/torch-sweep/torch_sweep_summary.py PACK.npz sweep.jsonl --out DIR    # DIR/summary.{md,json}
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from torch_sweep import SETTINGS, Pack, uar    # this folder, run as a script


def per_speaker(pack: Pack, split: str, y_pred: str) -> dict[str, float]:
    test = pack.index(pack.meta["splits"][split]["test"])
    pred = np.array([int(c) for c in y_pred])
    n = len(pack.labels)
    return {s: 100 * uar(pack.y[test][pack.speakers[test] == s], pred[pack.speakers[test] == s], n)
            for s in sorted(set(pack.speakers[test].tolist()))}


def order(name: str) -> tuple:
    front, _, setting = name.rpartition(":")
    return (front, list(SETTINGS).index(setting))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("results", nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    pack = Pack(a.pack)
    rows = [json.loads(line) for f in a.results for line in Path(f).read_text().splitlines()]
    rows = [r for r in rows if "error" not in r]
    for r in rows:   # another front end's runs are settings of their own
        if r.get("front", "mfcc") != "mfcc":
            r["name"] = f"{r['front']}:{r['name']}"
    runs = defaultdict(dict)          # (setting, protocol) -> {(seed, split): row}
    for r in rows:
        protocol = "loco" if r["config"]["split"] == "loco" else "cv"
        runs[r["name"], protocol][r["config"]["seed"], r["config"]["split"]] = r
    table = []
    for (name, protocol), got in sorted(runs.items(), key=lambda kv: (kv[0][1], order(kv[0][0]))):
        seeds = sorted({seed for seed, _ in got})
        if protocol == "cv":      # a seed counts when all five folds ran: pooled per speaker
            seeds = [s for s in seeds if all((s, f"cv{k}") in got for k in range(5))]
        if not seeds:
            continue
        by_seed = {s: [got[k] for k in got if k[0] == s] for s in seeds}
        test = [np.mean([100 * r["test_uar"] for r in by_seed[s]]) for s in seeds]
        val = [np.mean([100 * r["val_uar"] for r in by_seed[s]]) for s in seeds]
        row = {"setting": name, "protocol": protocol, "change": SETTINGS[name.rpartition(":")[2]],
               "seeds": seeds, "test_uar": [round(float(t), 2) for t in test],
               "test_mean": float(np.mean(test)), "test_sd": float(np.std(test, ddof=1)) if len(test) > 1 else None,
               "val_mean": float(np.mean(val)),
               "epochs_chosen": [r["selected_epoch"] for s in seeds for r in by_seed[s]],
               "seconds": float(np.mean([r["seconds"] for s in seeds for r in by_seed[s]]))}
        base = runs.get(("recipe", protocol), {})
        if name != "recipe":
            diffs = []
            for s in seeds:
                for (seed, split), r in got.items():
                    if seed == s and (seed, split) in base:
                        mine = per_speaker(pack, split, r["y_pred"])
                        ref = per_speaker(pack, split, base[seed, split]["y_pred"])
                        diffs += [mine[k] - ref[k] for k in mine]
            if diffs:
                row["per_speaker_minus_recipe"] = {
                    "mean": float(np.mean(diffs)), "sd": float(np.std(diffs, ddof=1)),
                    "better": int(np.sum(np.array(diffs) > 0)), "pairs": len(diffs)}
        table.append(row)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "summary.json").write_text(json.dumps(table, indent=1) + "\n")
    lines = ["| protocol | setting | change from the recipe | seeds | test UAR per seed | mean | "
             "val UAR | per speaker minus recipe (same seeds) |", "|---|---|---|---:|---|---:|---:|---|"]
    for r in table:
        p = r.get("per_speaker_minus_recipe")
        paired = f"{p['mean']:+.2f} +- {p['sd']:.2f} ({p['better']} of {p['pairs']} better)" if p else ""
        change = ", ".join(f"{k} {v}" for k, v in r["change"].items()) or "-"
        lines.append(f"| {r['protocol']} | {r['setting']} | {change} | {len(r['seeds'])} | "
                     f"{', '.join(f'{t:.1f}' for t in r['test_uar'])} | **{r['test_mean']:.2f}** | "
                     f"{r['val_mean']:.2f} | {paired} |")
    (a.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

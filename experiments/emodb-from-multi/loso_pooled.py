#!/usr/bin/env python3
"""Pooled scores of leave-one-speaker-out runs over the test speakers they all have.

    python experiments/emodb-from-multi/loso_pooled.py shipped=experiments/emodb-only/emodb-3s \\
        probe=experiments/emodb-from-multi/emodb-multi-probe --out experiments/emodb-from-multi/emodb-multi-probe/pooled.json

Each NAME=FOLDER holds fold result files (fold*.json, one test speaker each, with y_true and
y_pred). Per-fold UAR swings with a clip or two (speaker 03 has one disgust clip), so runs
are compared on every test clip of the speakers all of them scored, and fold by fold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def folds_by_speaker(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("fold*.json")):
        fold = json.loads(path.read_text())
        if len(fold["test_speakers"]) == 1 and "y_true" in fold:
            out[fold["test_speakers"][0]] = fold
    return out


def main() -> int:
    from sernet_edge.io import write_json
    from sernet_edge.metrics import scores
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="NAME=FOLDER")
    ap.add_argument("--speakers", default="", help="only these test speakers (comma-separated)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    runs = {name: folds_by_speaker(Path(folder)) for name, folder in (a.split("=", 1) for a in args.runs)}
    common = sorted(set.intersection(*(set(r) for r in runs.values())))
    if args.speakers:
        common = [s for s in common if s in args.speakers.split(",")]
    if not common:
        raise SystemExit("no test speaker is common to these runs")
    out = {"speakers": common, "runs": {}}
    for name, folds in runs.items():
        n = max(max(folds[s]["y_true"] + folds[s]["y_pred"]) for s in common) + 1
        labels = [str(i) for i in range(n)]
        y_true = [y for s in common for y in folds[s]["y_true"]]
        y_pred = [y for s in common for y in folds[s]["y_pred"]]
        pooled = scores(y_true, y_pred, labels)
        per_fold = {s: folds[s]["test"]["uar"] for s in common}
        out["runs"][name] = {"pooled_uar": pooled["uar"], "pooled_wa": pooled["wa"], "n": pooled["n"],
                             "fold_uar": per_fold,
                             "fold_mean": statistics.fmean(per_fold.values()),
                             "fold_sd": statistics.stdev(per_fold.values()) if len(common) > 1 else 0.0,
                             "selected_epochs": {s: folds[s]["selected_epoch"] for s in common}}
    names = list(runs)
    print(f"{len(common)} test speakers: {', '.join(common)}")
    print(f"{'run':<12} pooled UAR   WA  fold mean +- sd  " + " ".join(f"{s:>6}" for s in common))
    for name in names:
        r = out["runs"][name]
        print(f"{name:<12} {100 * r['pooled_uar']:9.2f} {100 * r['pooled_wa']:6.2f} "
              f"{100 * r['fold_mean']:8.2f} +- {100 * r['fold_sd']:5.2f}  "
              + " ".join(f"{100 * r['fold_uar'][s]:6.2f}" for s in common))
    if len(names) >= 2:
        a, b = names[0], names[-1]
        diff = [100 * (out["runs"][b]["fold_uar"][s] - out["runs"][a]["fold_uar"][s]) for s in common]
        out["paired"] = {"of": f"{b} - {a}", "mean": statistics.fmean(diff),
                         "sd": statistics.stdev(diff) if len(diff) > 1 else 0.0,
                         "better": sum(d > 0 for d in diff), "worse": sum(d < 0 for d in diff),
                         "pooled": 100 * (out["runs"][b]["pooled_uar"] - out["runs"][a]["pooled_uar"])}
        p = out["paired"]
        print(f"{p['of']}: per fold {p['mean']:+.2f} +- {p['sd']:.2f} ({p['better']} better, "
              f"{p['worse']} worse); pooled {p['pooled']:+.2f}")
    if args.out:
        write_json(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

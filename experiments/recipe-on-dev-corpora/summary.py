"""Summarise `score_dev.py`'s files: each setting against the recipe on the same folds.

  python experiments/recipe-on-dev-corpora/summary.py experiments/recipe-on-dev-corpora/w025 \
      --baseline balance-corpus

Writes summary.md and summary.json in that folder: per setting, the development corpora's mean
UAR (shared classes) and in-corpus test UAR, each as mean +- standard deviation over the folds,
the paired difference from the baseline with its spread and how many folds were better, per
corpus, and the lowest recall of any development-corpus class.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from sernet_edge.io import write_json, write_text


def mean_sd(values) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def pct(m_sd) -> str:
    return f"{100 * m_sd[0]:.2f} +- {100 * m_sd[1]:.2f}"


def setting_row(name, folds, base) -> dict:
    by_fold = {f["fold"]: f for f in folds}
    row = {"setting": name, "folds": sorted(by_fold),
           "dev_mean_shared": mean_sd(f["dev_mean_shared"] for f in folds),
           "dev_mean_all": mean_sd(f["dev_mean_all"] for f in folds),
           "test_uar": mean_sd(f["test_uar"] for f in folds),
           "test_per_corpus": {c: mean_sd(f["test_per_corpus"][c] for f in folds)
                               for c in folds[0]["test_per_corpus"]},
           "per_corpus": {c: mean_sd(f["dev"][c]["uar_shared"] for f in folds)
                          for c in folds[0]["dev"]},
           "lowest_class_recall": min(
               (statistics.fmean(f["dev"][c]["recall_shared"][k] for f in folds), f"{c} {k}")
               for c in folds[0]["dev"] for k in folds[0]["dev"][c]["recall_shared"])}
    if base is not None and name != base["setting"]:
        shared = [k for k in sorted(by_fold) if k in base["by_fold"]]
        for key in ("dev_mean_shared", "test_uar"):
            d = [by_fold[k][key] - base["by_fold"][k][key] for k in shared]
            row[f"{key}_minus_baseline"] = {"mean_sd": mean_sd(d), "better": sum(x > 0 for x in d),
                                            "folds": len(d)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--baseline", required=True, help="the setting the others are compared with")
    a = ap.parse_args()
    folder = Path(a.folder)
    runs = {p.parent.name: json.loads(p.read_text())["folds"]
            for p in sorted(folder.glob("*/dev-scores.json"))}
    if a.baseline not in runs:
        raise SystemExit(f"{folder}: no {a.baseline}/dev-scores.json")
    base = {"setting": a.baseline, "by_fold": {f["fold"]: f for f in runs[a.baseline]}}
    rows = [setting_row(a.baseline, runs[a.baseline], None)] + \
        [setting_row(n, f, base) for n, f in runs.items() if n != a.baseline]
    corpora = list(rows[0]["per_corpus"])
    lines = ["| setting | folds | dev mean UAR | minus baseline (better folds) | "
             + " | ".join(corpora) + " | lowest class recall | in-corpus test UAR | minus baseline (better) | "
             + " | ".join(rows[0]["test_per_corpus"]) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(corpora) + "---|---:|---:|"
             + "---:|" * len(rows[0]["test_per_corpus"])]
    for r in rows:
        dd, dt = r.get("dev_mean_shared_minus_baseline"), r.get("test_uar_minus_baseline")
        diff = lambda d: f"{100 * d['mean_sd'][0]:+.2f} +- {100 * d['mean_sd'][1]:.2f} ({d['better']} of {d['folds']})" if d else ""  # noqa: E731
        low = r["lowest_class_recall"]
        lines.append(f"| {r['setting']} | {len(r['folds'])} | {pct(r['dev_mean_shared'])} | {diff(dd)} | "
                     + " | ".join(f"{100 * r['per_corpus'][c][0]:.1f}" for c in corpora)
                     + f" | {100 * low[0]:.1f} ({low[1]}) | {pct(r['test_uar'])} | {diff(dt)} | "
                     + " | ".join(f"{100 * v[0]:.1f}" for v in r["test_per_corpus"].values()) + " |")
    write_text(folder / "summary.md", "\n".join(lines) + "\n")
    write_json(folder / "summary.json", {"baseline": a.baseline, "settings": rows})
    print("\n".join(lines))


if __name__ == "__main__":
    main()

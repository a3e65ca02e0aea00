#!/usr/bin/env python3
"""Accuracy against Cortex-M4 instructions and RAM for the family, from the committed files.

    python experiments/multi-family/chart.py     # writes experiments/multi-family/accuracy-vs-cost.png

Accuracy: each model card's pooled UAR on held-out speakers (metrics.cross_validation); cost:
the per-operator Cortex-M runs in benchmarks/results/ (whole window, classifier RAM).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
RESULTS = {"multi-micro": "cortex-m-multi-micro-2026-12-05-5.json",
           "multi-s-micro": "cortex-m-multi-s-micro-2026-12-05-3.json",
           "multi-xs-micro": "cortex-m-multi-xs-micro-2026-12-05-3.json"}


def points():
    from sernet_edge.card import read_card
    from sernet_edge.runtime import resolve_model
    for name, result in RESULTS.items():
        r = json.loads((REPO / "benchmarks/results" / result).read_text())
        cv = read_card(resolve_model(name))["metrics"]["cross_validation"]
        yield (name, r["summary"]["total_instructions_first_clip"] / 1e6,
               r["summary"]["classifier_ram_bytes"]["total"] / 1024, 100 * cv["uar"],
               (cv.get("uar_over_folds") or {}).get("n"))


def main() -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sernet_edge.io import atomic_path
    pts = list(points())
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, col, label in ((axes[0], 1, "Cortex-M4 instructions per 3 s window (M, emulated)"),
                           (axes[1], 2, "classifier RAM, 3 s of audio included (KiB)")):
        for p in pts:
            ax.scatter(p[col], p[3], s=40)
            ax.annotate(f"{p[0]}\n({p[4]} folds)", (p[col], p[3]), textcoords="offset points",
                        xytext=(6, -12), fontsize=8)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("UAR on unseen speakers (%)")
    axes[0].axvline(168, ls="--", c="grey", lw=0.8)
    axes[0].text(170, min(p[3] for p in pts), "168 M: real time\nat 168 MHz", fontsize=7)
    axes[1].axvline(256, ls="--", c="grey", lw=0.8)
    axes[1].text(258, min(p[3] for p in pts), "256 KiB", fontsize=7)
    fig.suptitle("Light-SERNet at three widths: accuracy against cost", fontsize=10)
    fig.tight_layout()
    out = Path(__file__).with_name("accuracy-vs-cost.png")
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

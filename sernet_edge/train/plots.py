"""Report images: training curves, and confusion matrices drawn by the device-side
`sernet_edge.plots` (which `evaluate` shares)."""

from __future__ import annotations

from pathlib import Path

from sernet_edge.plots import _plt, _save, confusion_png


def curves_png(results, path) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    for r in results:
        h = r["history"]
        ep = [row["epoch"] for row in h]   # counted from 1
        a1.plot(ep, [row["loss"] for row in h], lw=0.8, label=r["fold"])
        if h and "val_uar" in h[0]:
            a2.plot(ep, [row["val_uar"] for row in h], lw=0.8, label=r["fold"])
    a1.set_title("training loss")
    a2.set_title("validation-speaker UAR")
    for ax in (a1, a2):
        ax.set_xlabel("epoch")
    a2.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)


def write_all(report, results, out: Path) -> None:
    if report.get("overall"):
        confusion_png(report["overall"]["confusion"], report["labels"], out / "confusion.png",
                      f"{report['corpus']} {report['recipe'].get('protocol', 'loso')}")
    if results:
        curves_png(results, out / "curves.png")

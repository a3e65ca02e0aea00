"""Report images: confusion matrices (counts and normalised) and training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sernet_edge.io import atomic_path


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def confusion_png(cm, labels, path, title="") -> None:
    plt = _plt()
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, mat, name, fmt in ((axes[0], cm, "counts", "d"), (axes[1], norm, "row-normalised", ".2f")):
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title} ({name})")
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, format(mat[i, j], fmt), ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


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


def _save(fig, path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    _plt().close(fig)

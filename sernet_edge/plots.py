"""Confusion-matrix images, on the device side: `evaluate` and the trainer both draw them.

matplotlib is optional (the `[bench]` extra) and imported only when a picture
is drawn, so importing this module costs nothing and needs nothing beyond numpy."""

from __future__ import annotations

import numpy as np

from sernet_edge.io import atomic_path

INSTALL_HINT = "the [bench] extra: pip install '.[bench]' in the sernet-edge folder"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def confusion_png(cm, labels, path, title="") -> None:
    """Counts and row-normalised confusion matrices side by side (rows true, columns predicted)."""
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


def _save(fig, path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    _plt().close(fig)

"""Pictures on the device side: confusion matrices (`evaluate` and the trainer) and the emotion
timeline of a recording (`classify --plot`).

matplotlib is optional (the `[plot]` extra) and imported only when a picture
is drawn, so importing this module costs nothing and needs nothing beyond numpy."""

from __future__ import annotations

import numpy as np

from sernet_edge.extras import hint
from sernet_edge.io import atomic_path

INSTALL_HINT = hint("plot")


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


def timeline_png(files, labels, path) -> None:
    """The emotion timeline of each file (`classify --plot`): one panel per file, each class's
    window probability over time (at each window's centre) and the segments as a coloured band
    above it. `files`: (name, Result, segments) in order."""
    plt = _plt()
    files = list(files)
    colours = {lab: plt.get_cmap("tab10")(i % 10) for i, lab in enumerate(labels)}
    fig, axes = plt.subplots(len(files), 1, figsize=(11, 1.0 + 2.2 * len(files)), squeeze=False)
    for ax, (name, result, segs) in zip(axes[:, 0], files):
        n = len(result.windows)
        ax.set_title(f"{name}: {result.label}" + (f" {result.confidence:.2f} (mean of {n} "
                     f"window{'s' if n != 1 else ''})" if result.has_speech else ""), fontsize=9)
        ax.set_ylim(0, 1.18)
        ax.set_xlim(0, max(result.duration, 1e-3))
        ax.set_ylabel("probability")
        if not result.windows:
            ax.text(0.5, 0.5, "no speech", ha="center", va="center", transform=ax.transAxes)
            continue
        t = [(w.start + w.end) / 2 for w in result.windows]
        for lab in labels:
            ax.plot(t, [w.probabilities[lab] for w in result.windows], color=colours[lab],
                    linewidth=1, label=lab, marker="o" if n < 20 else None, markersize=3)
        for seg in segs:
            ax.broken_barh([(seg.start, seg.end - seg.start)], (1.05, 0.1), color=colours[seg.label])
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel("seconds (band: segments)")
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    _plt().close(fig)

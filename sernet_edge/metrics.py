"""Classification metrics in numpy: UAR, WA, macro F1, per-class recall, confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """UAR (mean recall over classes present), WA (accuracy), macro F1, per-class recall.

    A prediction of -1 is no answer (a clip without speech): wrong for recall and accuracy,
    outside the confusion matrix, counted in `no_answer`."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    answered = y_pred >= 0
    cm = confusion_matrix(y_true[answered], y_pred[answered], len(labels))
    support = cm.sum(axis=1) + np.bincount(y_true[~answered], minlength=len(labels))
    predicted = cm.sum(axis=0)
    tp = np.diag(cm).astype(float)
    present = support > 0
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    total = int(support.sum())
    return {
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "wa": float(tp.sum() / total) if total else 0.0,
        "f1": float(f1[present].mean()) if present.any() else 0.0,
        "n": total,
        "no_answer": int((~answered).sum()),
        "recall": {lab: float(r) for lab, r, p in zip(labels, recall, present) if p},
        "confusion": cm.tolist(),
    }

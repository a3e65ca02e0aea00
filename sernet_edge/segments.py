"""The emotion timeline of a long recording: its windows joined into segments.

`classify` answers a whole file with the mean of its windows' probabilities: right for a clip
of one emotion, and an average that hides the story of a ten-minute recording of several
(`sadness 0.25` over 599 windows). `segments` gives that story instead: each window's
probabilities averaged with its neighbours' (SMOOTH windows, centred, so that one odd second
does not start a segment), each window's answer the most probable class of that average, and
consecutive windows with the same answer joined into one segment. Where two segments meet, the
boundary is the middle of the two windows' overlap (the middle of the hop between their
centres). A segment's confidence is the mean, over its windows, of its class's probability.

Numpy only: the device side computes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SMOOTH = 3          # windows averaged per answer (3 s of hop at the default 1 s)


@dataclass
class Segment:
    start: float            # seconds in the recording
    end: float
    label: str
    confidence: float       # mean of the label's probability over the segment's windows
    windows: int            # how many windows it joins

    def to_dict(self) -> dict:
        return asdict(self)


def smoothed(probs: np.ndarray, smooth: int = SMOOTH) -> np.ndarray:
    """Each row averaged with its neighbours: a centred moving mean over `smooth` rows (fewer
    at the ends)."""
    probs = np.asarray(probs, np.float64)
    if smooth <= 1 or len(probs) < 2:
        return probs
    half_before, half_after = (smooth - 1) // 2, smooth // 2
    cum = np.vstack([np.zeros((1, probs.shape[1])), np.cumsum(probs, axis=0)])
    i = np.arange(len(probs))
    lo, hi = np.maximum(i - half_before, 0), np.minimum(i + half_after + 1, len(probs))
    return (cum[hi] - cum[lo]) / (hi - lo)[:, None]


def segments(windows, labels: list[str], smooth: int = SMOOTH) -> list[Segment]:
    """The segments of a result's windows (`runtime.Window`s, in time order)."""
    if not windows:
        return []
    raw = np.array([[w.probabilities[lab] for lab in labels] for w in windows])
    answer = smoothed(raw, smooth).argmax(axis=1)
    out: list[Segment] = []
    first = 0
    for i in range(1, len(windows) + 1):
        if i < len(windows) and answer[i] == answer[first]:
            continue
        k = int(answer[first])
        start = windows[0].start if first == 0 else _boundary(windows[first - 1], windows[first])
        end = windows[-1].end if i == len(windows) else _boundary(windows[i - 1], windows[i])
        out.append(Segment(round(float(start), 2), round(float(end), 2), labels[k],
                           float(raw[first:i, k].mean()), i - first))
        first = i
    return out


def _boundary(a, b) -> float:
    """Where window `a`'s segment ends and the next window `b`'s begins: the middle of their
    overlap; where they do not overlap, the middle of the gap."""
    return (a.end + b.start) / 2


def disagree(segs: list[Segment]) -> bool:
    """Whether a file's windows tell more than one emotion."""
    return len({s.label for s in segs}) > 1

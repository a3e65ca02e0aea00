"""Pack the development windows as `pack_dev.py` does, but fill a window shorter than the
model input by repeating its own audio instead of zero padding (evaluation only).

  python experiments/short-clip-fill/pack_fill.py -o .devdata/dev16-repeat.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "recipe-on-dev-corpora"))

import pack_dev  # noqa: E402

from sernet_edge.features import extract  # noqa: E402


def repeat_fill(samples: np.ndarray, length: int) -> np.ndarray:
    """`samples` repeated end to end until `length` (longer input is left to `extract`)."""
    samples = np.asarray(samples, np.float32)
    if 0 < len(samples) < length:
        return np.resize(samples, length)
    return samples


class RepeatRecorder(pack_dev.Recorder):
    def predict_window(self, samples):
        return self.predict_features(extract(repeat_fill(samples, self.features.num_samples),
                                             self.features))


if __name__ == "__main__":
    pack_dev.main(RepeatRecorder, __doc__)

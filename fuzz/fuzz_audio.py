"""Coverage-guided fuzzing of the audio reader and the MFCC front end with atheris.

Any byte string must give finite features or an AudioError; anything else (another
exception, a crash, a hang) is a bug.

    .venv/bin/python fuzz/fuzz_audio.py -runs=2000          # the short run CI does
    .venv/bin/python fuzz/fuzz_audio.py fuzz/corpus -max_total_time=3600   # a long run

A long run keeps growing `fuzz/corpus/` (seed it with a few small audio files first);
crashing inputs are written as `crash-*` files in the working folder.
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    from sernet_edge.audio import load_audio
    from sernet_edge.errors import AudioError
    from sernet_edge.features import FeatureConfig, extract

CONFIG = FeatureConfig(seconds=0.5)   # short window: more inputs per second
_fd, PATH = tempfile.mkstemp(suffix=".wav")
os.close(_fd)


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        x = load_audio(PATH)
    except AudioError:
        return
    feats = extract(x, CONFIG)
    if not np.all(np.isfinite(feats)):
        raise RuntimeError("non-finite features")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

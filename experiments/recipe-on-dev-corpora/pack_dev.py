"""Pack the development corpora's model inputs for `torch_sweep.py --dev` (evaluation only).

Every clip of nEMO, URDU and TurEV-DB with a class the model knows is cut into windows exactly
as `sernet-edge evaluate` (and `benchmarks/unseen_corpora.py`) does it: the runtime's own
`classify_file` (energy speech gate, 3 s windows, 1 s hop), with the feature step recorded
instead of run. The windows travel as int8 (step 1/16, frame differences in lzma:
`torch_sweep.encode_int8`); a clip with no speech has no window and is answered "no speech".
Nothing here trains or calibrates.

  python experiments/recipe-on-dev-corpora/pack_dev.py -o .devdata/dev.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "experiments" / "torch-sweep"))

from unseen_corpora import corpus_folders, load_development_corpora  # noqa: E402

from torch_sweep import encode_int8, quantise_int8  # noqa: E402

from sernet_edge.cli.evaluate import select  # noqa: E402
from sernet_edge.runtime import EmotionClassifier  # noqa: E402

SCALE = 16.0       # int8 steps per unit: +-7.9, 0.018 standard deviations of rounding noise


class Recorder(EmotionClassifier):
    """The runtime's windowing, keeping each window's features instead of classifying it."""

    def predict_features(self, feats):
        self.kept.append(np.asarray(feats, np.float32))
        return np.full(len(self.labels), 1.0 / len(self.labels), np.float32)


def main(recorder: type[Recorder] = Recorder, description: str = __doc__) -> None:
    ap = argparse.ArgumentParser(description=description.splitlines()[0])
    ap.add_argument("folders", nargs="*")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--model", default="multi", help="whose labels and front end (default multi)")
    a = ap.parse_args()
    rec = recorder(a.model)
    windows, window_clip = [], []
    clip_corpus, clip_label, clip_speaker, clip_file = [], [], [], []
    for corpus in load_development_corpora(corpus_folders(a.folders)):
        sel = select(corpus, rec.labels)
        for item in sel["items"]:
            rec.kept = []
            rec.classify_file(item.path)
            for f in rec.kept:
                windows.append(f)
                window_clip.append(len(clip_label))
            clip_corpus.append(corpus.name)
            clip_label.append(rec.labels.index(item.label))
            clip_speaker.append(item.speaker)
            clip_file.append(str(Path(item.path).relative_to(corpus.root)))
        print(f"{corpus.name}: {len(sel['items'])} clips, {len(windows)} windows so far",
              flush=True)
    X = np.stack(windows)
    q, cost = quantise_int8(X, SCALE)
    meta = {"labels": rec.labels, "scale": SCALE, "features": rec.features.to_dict(),
            "gate": rec.vad, "hop_seconds": rec.hop_seconds, **cost}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, Xz=encode_int8(q), X_shape=np.array(q.shape), window_clip=np.array(window_clip, np.int32),
                        corpus=np.array(clip_corpus), y=np.array(clip_label, np.int8),
                        speakers=np.array(clip_speaker), files=np.array(clip_file),
                        meta=np.array(json.dumps(meta)))
    print(f"{a.out}: {len(clip_label)} clips, {q.shape} int8, "
          f"{meta['clipped_fraction']:.5f} of values clipped")


if __name__ == "__main__":
    main()

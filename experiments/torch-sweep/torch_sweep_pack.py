"""Pack CREMA-D + EMO-DB features for `torch_sweep.py` on a machine without the corpora.

The device machine takes at most 64 MiB of files, so the features travel as int8: CMVN
features are about N(0, 1) per coefficient, and a step of 1/32 (range +-4) is far finer than
what separates two clips. Also packed: labels, speakers, corpus, CREMA-D's voice votes, and
the speaker lists of the runs compared with (leave-one-corpus-out and the 5 CV folds).

  python experiments/torch-sweep/torch_sweep_pack.py CREMA_D_DIR EMODB_DIR -o .devdata/pack.npz
  ... --front logmel40 -o .devdata/pack-logmel40.npz   # 40 log-mel bands, no DCT, CMVN
  ... --scale 16 --lzma -o .devdata/pack.npz   # step 1/16 (+-8), frame differences in lzma:
                                               # about 57 % of the int8 bytes

`logmel40` is a candidate front end, not in FeatureConfig: the shipped front end's steps
(centre crop or pad to 3 s, peak normalisation, 1024/256 Hann frames, magnitude spectrum,
mel filters 80-7600 Hz, log) with 40 mel bands and no DCT, then per-band CMVN.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sernet_edge.audio import fit_length, load_audio, normalise
from sernet_edge.corpora import load_corpora, union
from sernet_edge.corpora.crema_d import find_votes, read_votes
from sernet_edge.features import FeatureConfig, _apply_mel, _frame, _magnitude, _matrices, cmvn
from sernet_edge.train.dataset import load_features

EXPERIMENTS = Path(__file__).resolve().parents[1]    # the runs whose speaker lists are packed
SCALE = 32.0


def splits() -> dict:
    out = {}
    loco = json.loads((EXPERIMENTS / "unseen-corpus-seeds" / "multi-loco-cmvn-seed1" / "fold01-emodb.json").read_text())
    out["loco"] = {k: loco[k] for k in ("train", "val")} | {"test": loco["test_speakers"]}
    for k in range(5):
        path = EXPERIMENTS / "multi-cmvn" / "multi-cv-cmvn" / f"fold{k:02d}-of05.json"
        fold = json.loads(path.read_text())
        out[f"cv{k}"] = {"train": fold["train"], "val": fold["val"], "test": fold["test_speakers"]}
    return out


def logmel_cmvn(path, config: FeatureConfig) -> np.ndarray:
    x = normalise(fit_length(load_audio(path, config.sample_rate), config.num_samples))
    m = _matrices(config)
    mel = _apply_mel(_magnitude(_frame(np.asarray(x, np.float64), config), m.window, config.n_fft), m)
    return cmvn(np.log(mel + config.log_offset)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("crema_d")
    ap.add_argument("emodb")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--front", choices=("mfcc", "logmel40"), default="mfcc")
    ap.add_argument("--votes", help="CREMA-D's summaryTable.csv (default: beside the corpus)")
    ap.add_argument("--scale", type=float, default=SCALE, help="int8 steps per unit (default 32)")
    ap.add_argument("--lzma", action="store_true",
                    help="store X as torch_sweep.encode_int8's bytes (for the 64 MiB limit)")
    a = ap.parse_args()
    corpus = union(load_corpora([a.crema_d, a.emodb]))
    if a.front == "mfcc":
        features = FeatureConfig(seconds=3.0, cmvn=True)
        X, y, _ = load_features(corpus, features)
    else:
        features = FeatureConfig(seconds=3.0, n_mels=40, n_mfcc=40, cmvn=True)  # DCT not used
        X = np.stack([logmel_cmvn(it.path, features) for it in corpus.items])[..., None]
        y = np.array([corpus.label_index(it.label) for it in corpus.items])
    speakers = np.array([it.speaker for it in corpus.items])
    from torch_sweep import encode_int8, quantise_int8
    q, cost = quantise_int8(X[..., 0], a.scale)
    votes = read_votes(find_votes(Path(a.crema_d), a.votes))
    labels = corpus.labels
    # per clip: the emotions of CREMA-D's voice-only vote as a 0/1 row (EMO-DB: none)
    voted = np.zeros((len(y), len(labels)), np.int8)
    for i, it in enumerate(corpus.items):
        for emotion in votes.get(it.path.stem, []) if it.corpus == "crema-d" else []:
            if emotion in labels:
                voted[i, labels.index(emotion)] = 1
    meta = {"labels": labels, "scale": a.scale, "front": a.front, "features": features.to_dict(),
            "max_abs_quantisation_error": cost["max_abs_quantisation_error"], "splits": splits()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    if a.lzma:
        packed = {"Xz": encode_int8(q), "X_shape": np.array(q.shape)}
    else:
        packed = {"X": q}
    np.savez_compressed(a.out, **packed, y=y.astype(np.int8), speakers=speakers,
                        corpus=np.array([it.corpus for it in corpus.items]), voted=voted,
                        meta=np.array(json.dumps(meta)))
    print(f"{a.out}: {q.shape} int8, max error {cost['max_abs_quantisation_error']:.4f} (values "
          f"beyond +-{127 / a.scale:.2f} clipped: {cost['clipped_fraction']:.5f} of them)")


if __name__ == "__main__":
    main()

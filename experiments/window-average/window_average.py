"""Centre crop or every window: how a clip longer than the model's input is best scored.

Training and the fold scores use one centre crop of each clip; `classify` and `evaluate`
average the probabilities of windows every `--hop` seconds over the whole clip
(`sernet_edge.runtime.iter_windows`). This scores each finished fold's test speakers both
ways with the fold's Keras weights, so the figures are on speakers the weights never heard.

    python experiments/window-average/window_average.py plain=/work/runs/multi-cv cmvn=/work/runs/multi-cv-cmvn \
        /data/crema-d ../shared/data/emodb --out benchmarks/results/window-average.json

The centre-crop predictions must equal the fold's recorded ones (a check on the order of the
test items); a run whose folds disagree is refused.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from per_speaker import uar_by_speaker    # noqa: E402  experiments/tools
from sernet_edge.audio import load_audio
from sernet_edge.corpora import load_corpora, union
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.runtime import iter_windows
from sernet_edge.train.trainer import fold_model, predict


def score_fold(model, cfg: FeatureConfig, audio: list[np.ndarray], hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre-crop predictions, window-average predictions, windows per clip)."""
    centre = predict(model, np.stack([extract(x, cfg) for x in audio])[..., None])
    feats, owner = [], []
    for i, x in enumerate(audio):
        for _, w in iter_windows([x], cfg.num_samples, hop):
            feats.append(extract(w, cfg))
            owner.append(i)
    owner = np.array(owner)
    probs = predict(model, np.stack(feats)[..., None])
    mean = np.stack([probs[owner == i].mean(axis=0) for i in range(len(audio))])
    return centre.argmax(1), mean.argmax(1), np.bincount(owner, minlength=len(audio))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", nargs="+", help="NAME=RUN (one or more), then the corpora as given to train")
    ap.add_argument("--hop", type=float, default=1.0, help="seconds between windows (classify's default)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    runs = dict(a.split("=", 1) for a in args.items if "=" in a)
    paths = [a for a in args.items if "=" not in a]
    out = {"runs": runs, "hop_seconds": args.hop, "results": {}}
    audio_cache: dict[str, np.ndarray] = {}
    corpora = load_corpora(paths)
    for name, run in runs.items():
        settings = json.loads((Path(run) / "settings.json").read_text())
        labels, cfg = settings["labels"], FeatureConfig.from_dict(settings["features"])
        hop = int(round(args.hop * cfg.sample_rate))
        corpus = union(corpora, labels)
        speaker = np.array([it.speaker for it in corpus.items])
        y = np.array([labels.index(it.label) for it in corpus.items])
        names = [str(i) for i in range(len(labels))]
        truth, how = [], {"centre": [], "windows": []}
        spk, src, n_windows, folds = [], [], [], []
        for fold_dir in sorted(p for p in (Path(run) / "folds").iterdir() if (p / "result.json").exists()):
            result = json.loads((fold_dir / "result.json").read_text())
            test = np.flatnonzero(np.isin(speaker, result["test_speakers"]))
            if list(y[test]) != list(result["y_true"]):
                raise SystemExit(f"{name}/{fold_dir.name}: the corpora give other test items than the run")
            audio = []
            for i in test:
                key = str(corpus.items[i].path)
                if key not in audio_cache:
                    audio_cache[key] = load_audio(corpus.items[i].path)
                audio.append(audio_cache[key])
            centre, windows, count = score_fold(fold_model(fold_dir, settings), cfg, audio, hop)
            agree = float(np.mean(centre == np.array(result["y_pred"])))
            if agree < 0.999:
                raise SystemExit(f"{name}/{fold_dir.name}: centre crop reproduces only {agree:.3f} of the fold's answers")
            f = {"centre": 100 * scores(y[test], centre, names)["uar"],
                 "windows": 100 * scores(y[test], windows, names)["uar"],
                 "clips": len(test), "clips_with_several_windows": int(np.sum(count > 1)),
                 "answers_changed": int(np.sum(centre != windows)), "reproduces_fold": agree}
            folds.append(fold_dir.name)
            out["results"].setdefault(name, {})[fold_dir.name] = f
            print(f"{name} {fold_dir.name}: centre {f['centre']:.2f} windows {f['windows']:.2f} "
                  f"({f['clips_with_several_windows']} of {f['clips']} clips longer than one window, "
                  f"{f['answers_changed']} answers changed)", flush=True)
            truth.extend(y[test]); how["centre"].extend(centre); how["windows"].extend(windows)
            spk.extend(speaker[test]); src.extend(result["corpus"]); n_windows.extend(count)
        truth, spk, src = np.array(truth), np.array(spk), np.array(src)
        how = {k: np.array(v) for k, v in how.items()}
        summary = {}
        for corp in ["all"] + (sorted(set(src)) if len(set(src)) > 1 else []):
            m = np.ones(len(truth), bool) if corp == "all" else src == corp
            s = {k: 100 * scores(truth[m], v[m], names)["uar"] for k, v in how.items()}
            by = {k: uar_by_speaker(truth[m], v[m], spk[m], names) for k, v in how.items()}
            per = [by["windows"][p] - by["centre"][p] for p in by["centre"]]
            s.update({"clips": int(m.sum()), "clips_with_several_windows": int(np.sum(np.array(n_windows)[m] > 1)),
                      "windows_minus_centre_per_speaker": {"mean": float(np.mean(per)),
                                                           "sd": float(np.std(per, ddof=1)) if len(per) > 1 else 0.0,
                                                           "speakers_better": int(np.sum(np.array(per) > 0)),
                                                           "speakers_worse": int(np.sum(np.array(per) < 0)),
                                                           "speakers": len(per)}})
            summary[corp] = s
            p = s["windows_minus_centre_per_speaker"]
            print(f"{name} {corp:8s} pooled: centre {s['centre']:.2f} windows {s['windows']:.2f}; per speaker "
                  f"{p['mean']:+.2f} +- {p['sd']:.2f} (better {p['speakers_better']}, worse {p['speakers_worse']} "
                  f"of {p['speakers']}); {s['clips_with_several_windows']} of {s['clips']} clips longer than one window")
        out["results"][name]["pooled"] = summary
        out["results"][name]["folds"] = folds
    out["machine"] = platform.platform()
    out["date"] = time.strftime("%Y-%m-%d")
    write_json(args.out, out)


if __name__ == "__main__":
    main()

"""How two recipes' fold models hold up when the recording chain changes: the same held-out
speakers, their audio passed through a fixed microphone/line colouring, scored per speaker.

    python experiments/tools/channel_shift.py plain=/work/runs/multi-cv cmvn=/work/runs/multi-cv-cmvn \
        /data/crema-d ../shared/data/emodb --folds fold02-of05,fold03-of05 \
        --out experiments/multi-cmvn/multi-cv-cmvn/channel-shift.json

A proxy for a corpus the models never heard, with the speakers and the language held fixed:
only the channel changes, which is what per-utterance CMVN claims to remove. Every
condition is deterministic (fixed filters, no noise). Folds must be finished in every run.

`--earlier FILE:NAME,...` takes runs from an earlier output of this script (same folds and
conditions) instead of scoring them again, so a new run pairs with runs whose weights are gone:

    python experiments/tools/channel_shift.py speed=/work/runs/cv-speed /data/crema-d ../shared/data/emodb \
        --folds fold02-of05,fold03-of05 \
        --earlier experiments/multi-cmvn/multi-cv-cmvn/channel-shift.json:cmvn,plain \
        --out experiments/multi-speed/multi-cv-cmvn-speed/channel-shift.json

The last run is paired per speaker with each of the others (`paired`: with the first); a
single run is only scored.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from per_speaker import uar_by_speaker    # this folder, run as a script
from sernet_edge.audio import load_audio, resample
from sernet_edge.corpora import load_corpora, union
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.train.trainer import fold_model, predict

SR = 16_000


def one_pole_lowpass(x: np.ndarray, a: float) -> np.ndarray:
    from scipy.signal import lfilter
    return lfilter([1 - a], [1, -a], x).astype(np.float32)


# each: 16 kHz float32 -> 16 kHz float32
CONDITIONS = {
    "clean": lambda x: x,
    "telephone (8 kHz, 300-3400 Hz)": lambda x: _telephone(x),
    "thin microphone (x[n] - 0.9 x[n-1])": lambda x: np.append(x[:1], x[1:] - 0.9 * x[:-1]).astype(np.float32),
    "muffled (one-pole low-pass, a = 0.8)": lambda x: one_pole_lowpass(x, 0.8),
}


def _telephone(x: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfilt
    narrow = resample(x, SR, 8_000)
    narrow = sosfilt(butter(4, [300, 3400], "bandpass", fs=8_000, output="sos"), narrow)
    return resample(narrow.astype(np.float32), 8_000, SR)


def score(runs: dict, paths: list[str], folds: list[str], out: dict) -> None:
    """Score each run's fold models on every condition, into out["results"]."""
    settings = {n: json.loads((Path(r) / "settings.json").read_text()) for n, r in runs.items()}
    labels = next(iter(settings.values()))["labels"]
    corpus = union(load_corpora(paths), labels)
    speaker = np.array([it.speaker for it in corpus.items])
    y = np.array([labels.index(it.label) for it in corpus.items])
    names = [str(i) for i in range(len(labels))]
    for fold in folds:
        test_speakers = json.loads((Path(runs[next(iter(runs))]) / "folds" / fold / "result.json")
                                   .read_text())["test_speakers"]
        scored = out["results"].get(fold, {}).get("clean", {})
        if any(sorted(r["per_speaker"]) != sorted(test_speakers) for r in scored.values()):
            raise SystemExit(f"{fold}: the earlier runs tested other speakers")
        for n, r in runs.items():
            other = json.loads((Path(r) / "folds" / fold / "result.json").read_text())["test_speakers"]
            if sorted(other) != sorted(test_speakers):
                raise SystemExit(f"{n}: {fold} tests other speakers than {next(iter(runs))}")
        test = np.flatnonzero(np.isin(speaker, test_speakers))
        audio = [load_audio(corpus.items[i].path) for i in test]
        models = {n: fold_model(Path(r) / "folds" / fold, settings[n]) for n, r in runs.items()}
        for cond, transform in CONDITIONS.items():
            shifted = [transform(x) for x in audio]
            for n in runs:
                cfg = FeatureConfig.from_dict(settings[n]["features"])
                X = np.stack([extract(x, cfg) for x in shifted])[..., None]
                pred = predict(models[n], X).argmax(1)
                per_spk = uar_by_speaker(y[test], pred, speaker[test], names)
                res = out["results"].setdefault(fold, {}).setdefault(cond, {})
                res[n] = {"uar": 100 * scores(y[test], pred, names)["uar"], "per_speaker": per_spk}
                print(f"{fold}  {cond:40s} {n:8s} UAR {res[n]['uar']:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", nargs="*", help="NAME=RUN (one or more; two or more are paired), then the "
                                            "corpora as given to train")
    ap.add_argument("--earlier", metavar="FILE:NAME,...", action="append", default=[],
                    help="runs already scored in an earlier output of this script, placed first "
                         "(repeatable)")
    ap.add_argument("--folds", required=True, help="fold names, comma-separated")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    runs = dict(a.split("=", 1) for a in args.items if "=" in a)
    paths = [a for a in args.items if "=" not in a]
    folds = args.folds.split(",")

    out = {"runs": {}, "folds": folds, "conditions": list(CONDITIONS), "results": {}}
    for spec in args.earlier:
        file, _, wanted = spec.rpartition(":")
        earlier = json.loads(Path(file).read_text())
        if not set(folds) <= set(earlier["results"]) or earlier["conditions"] != list(CONDITIONS):
            raise SystemExit(f"{file}: scored other folds or conditions")
        for n in wanted.split(","):
            if n not in earlier["runs"]:
                raise SystemExit(f"{file}: no run {n!r}")
            if n in runs or n in out["runs"]:
                raise SystemExit(f"--earlier {n!r}: another run has that name")
            out["runs"][n] = f"{earlier['runs'][n]} (scored in {file})"
            for fold in folds:
                for cond in CONDITIONS:
                    out["results"].setdefault(fold, {}).setdefault(cond, {})[n] = \
                        earlier["results"][fold][cond][n]
    out["runs"].update(runs)
    if not out["runs"]:
        raise SystemExit("give a run (NAME=RUN or --earlier); with two or more they are paired")
    if runs:
        score(runs, paths, folds, out)
    # paired per speaker: the last run minus each other, per condition, over every fold's speakers
    names = list(out["runs"])
    b = names[-1]
    for a in names[:-1]:
        paired = {}
        for cond in CONDITIONS:
            d = [out["results"][f][cond][b]["per_speaker"][s] - out["results"][f][cond][a]["per_speaker"][s]
                 for f in folds for s in out["results"][f][cond][a]["per_speaker"]]
            drop = {n: float(np.mean([out["results"][f]["clean"][n]["uar"] - out["results"][f][cond][n]["uar"]
                                      for f in folds])) for n in (a, b)}
            paired[cond] = {"of": f"{b} - {a}", "mean": float(np.mean(d)), "sd": float(np.std(d, ddof=1)),
                            "speakers_better": int(np.sum(np.array(d) > 0)), "speakers": len(d),
                            "uar_drop_from_clean": drop}
            p = paired[cond]
            print(f"{cond:40s} {b}-{a}: {p['mean']:+.2f} +- {p['sd']:.2f} per speaker, better for "
                  f"{p['speakers_better']} of {p['speakers']}; drop from clean {a} {drop[a]:.2f}, {b} {drop[b]:.2f}")
        out.setdefault("paired", paired)
        if len(names) > 2:
            out.setdefault("paired_with_each", {})[a] = paired
    out["machine"] = platform.platform()
    out["date"] = time.strftime("%Y-%m-%d")
    write_json(args.out, out)


if __name__ == "__main__":
    main()

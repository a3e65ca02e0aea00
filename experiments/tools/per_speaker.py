"""Per-speaker UAR of committed fold results, and the paired difference between two runs.

    python experiments/tools/per_speaker.py ../shared/data/emodb \
        plain=experiments/leave-one-corpus-out/multi-loco/emodb/fold01-emodb.json \
        cmvn=experiments/multi-cmvn/multi-loco-cmvn/fold01-emodb.json \
        --out experiments/multi-cmvn/multi-loco-cmvn/per-speaker.json

Several folds of one run are joined with commas; speakers scored by both runs are compared.
A name given more than once (NAME=seed42.json NAME=seed7.json) stands for the mean, per
speaker, over those runs: several seeds of one setting compared with several of another.
A run on one of the corpora (EMO-DB leave-one-speaker-out) pairs with a run on their union
(CREMA-D + EMO-DB): its speakers are named `corpus/speaker` as the union names them.

A fold file keeps y_true and y_pred in the order of its test items; the speakers are
recovered from the corpora (given as to `train`), and the recovered labels must equal
y_true, so a wrong order is refused rather than scored. Pooled UAR over a corpus hides how
much a change helps one voice and hurts another: the paired per-speaker differences do not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sernet_edge.corpora import load_corpora, union
from sernet_edge.io import write_json
from sernet_edge.metrics import scores


def uar_by_speaker(y_true, y_pred, speaker, names: list[str]) -> dict[str, float]:
    """UAR in % of each speaker's clips, speakers sorted; unrounded."""
    y_true, y_pred, speaker = np.asarray(y_true), np.asarray(y_pred), np.asarray(speaker)
    return {s: 100 * scores(y_true[speaker == s], y_pred[speaker == s], names)["uar"]
            for s in sorted(set(speaker.tolist()))}


def paired(diff, of: str) -> dict:
    """Summary of per-speaker differences (one run minus another), printed as one line."""
    diff = np.asarray(diff, dtype=float)
    p = {"of": of, "mean": round(float(diff.mean()), 2),
         "sd": round(float(diff.std(ddof=1)), 2) if len(diff) > 1 else 0.0,
         "min": round(float(diff.min()), 2), "max": round(float(diff.max()), 2),
         "speakers_better": int((diff > 0).sum()), "speakers": len(diff)}
    print(f"{of}: {p['mean']:+.2f} +- {p['sd']:.2f} per speaker "
          f"({p['min']:+.2f} to {p['max']:+.2f}; better for {p['speakers_better']} of {p['speakers']})")
    return p


def mean_over_runs(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each speaker's mean UAR over several runs of one setting (seeds), for the speakers
    every run scored; unrounded, as `paired` rounds what it reports."""
    return {s: float(np.mean([r[s] for r in runs])) for s in runs[0] if all(s in r for r in runs)}


def speaker_uar(corpus, result: dict, labels: list[str]) -> dict[str, float]:
    test = set(result["test_speakers"])
    items = [it for it in corpus.items if it.speaker in test]
    y_true, y_pred = np.array(result["y_true"]), np.array(result["y_pred"])
    recovered = np.array([labels.index(it.label) for it in items])
    if len(recovered) != len(y_true) or not (recovered == y_true).all():
        raise SystemExit("the corpora given do not reproduce this fold's test items (order or set)")
    speaker = [it.speaker for it in items]
    per = uar_by_speaker(y_true, y_pred, speaker, [str(i) for i in range(len(labels))])
    return {s: round(u, 2) for s, u in per.items()}


def settings_file(fold: Path) -> Path:
    """The run's settings.json beside the fold file, or PREFIX-settings.json for a fold file
    named PREFIX-fold... (two runs committed in one folder)."""
    own = fold.parent / (fold.name.split("fold")[0] + "settings.json")
    return own if own.exists() else fold.parent / "settings.json"


def run_uar(files: str, corpora) -> dict[str, float]:
    """Per-speaker UAR of one run: its fold files joined with commas, every test speaker."""
    per_run = {}
    for path in files.split(","):
        settings = json.loads(settings_file(Path(path)).read_text())
        # the run's own corpora: a single-corpus run is scored on that corpus alone
        own = [c for c in corpora if c.name in settings["corpus"].split("+")] or corpora
        corpus = union(own, settings["labels"])
        per = speaker_uar(corpus, json.loads(Path(path).read_text()), settings["labels"])
        if len(corpora) > 1 and len(own) == 1:   # its speakers named as in the union
            per = {f"{own[0].name}/{s}": u for s, u in per.items()}
        per_run.update(per)
    return per_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+",
                    help="corpus folders, then NAME=fold.json[,fold.json...] (two or more runs; "
                         "a NAME repeated is the mean over its runs)")
    ap.add_argument("--out")
    args = ap.parse_args()
    paths = [a for a in args.corpora if "=" not in a]
    runs: dict[str, list[str]] = {}
    for a in args.corpora:
        if "=" in a:
            name, files = a.split("=", 1)
            runs.setdefault(name, []).append(files)
    corpora = load_corpora(paths)
    per_run, seeds = {}, {}
    for name, repeats in runs.items():
        seeds[name] = [run_uar(files, corpora) for files in repeats]
        per_run[name] = seeds[name][0] if len(repeats) == 1 else mean_over_runs(seeds[name])
    names = list(per_run)
    speakers = [s for s in per_run[names[0]] if all(s in per_run[n] for n in names)]
    print("speaker  " + "  ".join(f"{n:>8}" for n in names))
    for s in speakers:
        print(f"{s:<8} " + "  ".join(f"{per_run[n][s]:8.2f}" for n in names))
    out = {"runs": {n: r[0] if len(r) == 1 else r for n, r in runs.items()},
           "per_speaker_uar": {n: {s: round(u, 2) for s, u in per.items()} for n, per in per_run.items()}}
    if any(len(r) > 1 for r in runs.values()):
        out["per_speaker_uar_of_each_run"] = {n: v for n, v in seeds.items() if len(v) > 1}
    if len(names) >= 2:
        a, b = names[0], names[-1]
        out["paired"] = paired([per_run[b][s] - per_run[a][s] for s in speakers], f"{b} - {a}")
    if args.out:
        write_json(args.out, out)


if __name__ == "__main__":
    main()

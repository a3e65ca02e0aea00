"""Score the fold models of `sernet-edge train` runs in a room's noise (the rule in README.md).

For each finished fold: its held-out test speakers (at most --per-fold clips, spread over them)
and the development corpora (at most --per-corpus clips each), in clean, pink 20/10 dB, babble
20/10 dB and RT60 0.6 s (sernet_edge.noise.Room, seed 1: training draws from other streams;
babble from the same set's other speakers). Each clip is cut as `evaluate` cuts it (the file
gate, 3 s windows every second) and answered by the mean of its windows' probabilities; on the
development corpora the most probable of the corpus's own classes. The windows of a set and
condition are computed once and scored by every run. Writes <out>/scores.json and prints the
rule's numbers.

  python experiments/noise-robust-training/score_noise.py runs/w025-recipe runs/w025-room \\
      --crema-d /data/crema-d --emodb /data/emodb --dev /data/nemo /data/urdu /data/turev-db \\
      -o experiments/noise-robust-training/w025
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sernet_edge.audio import load_audio
from sernet_edge.corpora import load_corpus
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import write_json
from sernet_edge.metrics import scores
from sernet_edge.noise import Room, Talkers
from sernet_edge.runtime import iter_windows
from sernet_edge.speech import SpeechTrack, recording_gate, speech_only
from sernet_edge.train.trainer import finished_folds, predict

SEED = 1
CONDITIONS = {"clean": {}, "pink 20 dB": {"kind": "pink", "snr_db": 20},
              "pink 10 dB": {"kind": "pink", "snr_db": 10},
              "babble 20 dB": {"kind": "babble", "snr_db": 20},
              "babble 10 dB": {"kind": "babble", "snr_db": 10}, "RT60 0.6 s": {"rt60": 0.6}}


def spread(items, n):
    items = sorted(items, key=lambda it: str(it.path))
    return items if n >= len(items) else [items[i * len(items) // n] for i in range(n)]


def windows(items, key, talkers, cond, features: FeatureConfig):
    """(features of every window, the clip each belongs to) as `evaluate` cuts them."""
    room = Room(cond.get("kind"), cond.get("snr_db"), cond.get("rt60"), SEED, talkers=talkers)
    rate, feats, owner = features.sample_rate, [], []
    for i, it in enumerate(items):
        x = room.apply(load_audio(it.path), key(it), it.speaker)
        track = SpeechTrack(rate)
        gate, floor = recording_gate(lambda: [x], rate, "energy", track)
        for _, w in iter_windows(speech_only([x], gate, rate, track, floor),
                                 features.num_samples, rate):
            feats.append(extract(w, features))
            owner.append(i)
    X = np.stack(feats)[..., None] if feats else np.zeros((0, *features.input_shape), np.float32)
    return X.astype(np.float32), np.array(owner, int)


def clip_answers(prob, owner, n, allowed):
    """Per clip: index of the most probable allowed class of its mean probabilities; -1
    (wrong) for a clip without speech."""
    out = np.full(n, -1)
    for i in range(n):
        rows = prob[owner == i]
        if len(rows):
            mean = rows.mean(0)
            out[i] = max(allowed, key=lambda k: mean[k])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--crema-d", required=True)
    ap.add_argument("--emodb", required=True)
    ap.add_argument("--dev", nargs="+", required=True)
    ap.add_argument("--per-fold", type=int, default=300)
    ap.add_argument("--per-corpus", type=int, default=150)
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args()
    runs = [Path(r) for r in a.runs]
    settings = json.loads((runs[0] / "settings.json").read_text())
    labels = settings["labels"]
    features = FeatureConfig.from_dict(settings["features"])
    # every run's finished folds, by fold name
    models = {r.name: {res["fold"]: (res, m) for res, m in finished_folds(r)} for r in runs}
    folds = sorted(set.intersection(*(set(m) for m in models.values())))
    if not folds:
        sys.exit("no fold is finished in every run")
    held = load_corpus(a.crema_d).items + load_corpus(a.emodb).items
    sets = []
    for fold in folds:
        res = models[runs[0].name][fold][0]
        test = set(res["test_speakers"])
        items = [it for it in held if it.label in labels
                 and (f"{it.corpus}/{it.speaker}" in test or it.speaker in test)]
        items = spread(items, a.per_fold)
        sets.append((fold, "held-out", items, list(range(len(labels))), lambda it: it.path.name))
    dev_sets = []
    for folder in a.dev:
        corpus = load_corpus(folder)
        allowed = [labels.index(c) for c in corpus.labels if c in labels]
        items = spread([it for it in corpus.items if it.label in labels], a.per_corpus)
        dev_sets.append((corpus.name, items, allowed, Talkers(
            [(str(it.path), it.speaker) for it in corpus.items], seed=SEED)))
    out = {"folds": folds, "conditions": list(CONDITIONS), "per_fold": a.per_fold,
           "per_corpus": a.per_corpus, "seed": SEED, "scores": {}}
    for cname, cond in CONDITIONS.items():
        cache = {}
        for fold, _, items, allowed, key in sets:
            talk = Talkers([(str(it.path), f"{it.corpus}/{it.speaker}") for it in items], seed=SEED)
            cache[("held-out", fold)] = (items, allowed, *windows(items, key, talk, cond, features))
        for name, items, allowed, talk in dev_sets:
            cache[("dev", name)] = (items, allowed, *windows(
                items, lambda it: it.path.name, talk, cond, features))
        print(f"{cname}: windows ready", file=sys.stderr, flush=True)
        for run in runs:
            for fold in folds:
                model = models[run.name][fold][1]
                row = {}
                for (kind, name), (items, allowed, X, owner) in cache.items():
                    if kind == "held-out" and name != fold:
                        continue
                    prob = predict(model, X) if len(X) else np.zeros((0, len(labels)))
                    pred = clip_answers(prob, owner, len(items), allowed)
                    truth = [labels.index(it.label) for it in items]
                    row[name if kind == "dev" else "held-out"] = round(
                        100 * scores(truth, pred.tolist(), labels)["uar"], 2)
                row["dev"] = round(float(np.mean([row[n] for n, *_ in dev_sets])), 2)
                out["scores"].setdefault(run.name, {}).setdefault(fold, {})[cname] = row
                print(f"{run.name} {fold} {cname}: held-out {row['held-out']:.2f} dev "
                      f"{row['dev']:.2f}", file=sys.stderr, flush=True)
        write_json(a.out / "scores.json", out)
    write_json(a.out / "scores.json", out)
    (a.out / "summary.md").write_text(summary(out, [r.name for r in runs]))
    print(summary(out, [r.name for r in runs]))


def judged(row_by_cond: dict, part: str) -> float:
    """S for one set: mean of clean, the 20 dB mean and the 10 dB mean."""
    c = row_by_cond
    return float(np.mean([c["clean"][part],
                          np.mean([c["pink 20 dB"][part], c["babble 20 dB"][part]]),
                          np.mean([c["pink 10 dB"][part], c["babble 10 dB"][part]])]))


def summary(out: dict, runs: list[str]) -> str:
    """The rule's numbers: per run and fold S (the mean over held-out and development sets),
    clean UAR (their mean), every condition; then each run against the first, paired by fold."""
    lines = ["| run | fold | score S | clean | " + " | ".join(
        f"{c} (held-out / dev)" for c in out["conditions"]) + " |",
        "|---|---|---:|---:|" + "---:|" * len(out["conditions"])]
    per = {}
    for run in runs:
        for fold in out["folds"]:
            c = out["scores"][run][fold]
            S = np.mean([judged(c, "held-out"), judged(c, "dev")])
            clean = np.mean([c["clean"]["held-out"], c["clean"]["dev"]])
            per[run, fold] = (S, clean)
            lines.append(f"| {run} | {fold} | {S:.2f} | {clean:.2f} | " + " | ".join(
                f"{c[k]['held-out']:.1f} / {c[k]['dev']:.1f}" for k in out["conditions"]) + " |")
    base = runs[0]
    lines += ["", "| run | mean S | d = S minus " + base + " (mean +- sd over folds) | better folds "
              "| clean minus " + base + " |", "|---|---:|---:|---:|---:|"]
    for run in runs:
        S = [per[run, f][0] for f in out["folds"]]
        d = [per[run, f][0] - per[base, f][0] for f in out["folds"]]
        dc = [per[run, f][1] - per[base, f][1] for f in out["folds"]]
        sd = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
        lines.append(f"| {run} | {np.mean(S):.2f} | {np.mean(d):+.2f} +- {sd:.2f} | "
                     f"{sum(x > 0 for x in d)} of {len(d)} | {np.mean(dc):+.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Does normalising the coefficients by a speaker's own statistics help on speech the model
never heard? Unsupervised adaptation needs no labels: only some of the speaker's speech.

Every bundled CMVN model (`multi`, `multi-s`, `multi-xs`) scores every clip of the development
corpora (nEMO, URDU, TurEV-DB) on the classes each shares with the model, with the same
window (the clip's centre 3 s, as in training) and four normalisations of the same MFCCs:

  utterance    per-utterance CMVN over the window: what the models were trained with and
               what every sernet-edge path does today
  speaker      each coefficient's mean and deviation over all of that speaker's clips (their
               own frames, not the padding): the most a speaker-level estimate can know
  speaker-20s  the same from about 20 s of the speaker's clips (a fixed random draw of whole
               clips, --seed): what a short enrolment or a running estimate would have
  corpus       over the whole corpus (one microphone and room per corpus): channel only

UAR per corpus (answers restricted to the corpus's classes, and free over all the model's
classes), the mean over corpora, and per speaker: how many speakers each arm lifts over
`utterance`. Evaluation only: nothing here trains, tunes or calibrates on these corpora.

    nice -n 10 python experiments/speaker-cmvn/score.py --out experiments/speaker-cmvn/results
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sernet_edge.audio import load_audio                                 # noqa: E402
from sernet_edge.bench.timing import machine_info                       # noqa: E402
from sernet_edge.features import CMVN_FLOOR, clip_frames, cmvn, extract  # noqa: E402
from sernet_edge.io import write_json, write_text                       # noqa: E402
from sernet_edge.metrics import scores                                  # noqa: E402
from sernet_edge.runtime import EmotionClassifier                       # noqa: E402
from unseen_corpora import corpus_folders, load_development_corpora     # noqa: E402

ARMS = ("utterance", "speaker", "speaker-20s", "corpus")
MODELS = ("multi", "multi-s", "multi-xs")


def stats(raws: list[np.ndarray], frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    used = np.concatenate([r[f] if f.any() else r for r, f in zip(raws, frames)]).astype(np.float64)
    return used.mean(axis=0), np.maximum(used.std(axis=0), CMVN_FLOOR)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="*", help="development corpus folders (default: as benchmarks/unseen_corpora.py)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=20.0, help="speech for the speaker-20s arm")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    classifiers = {m: EmotionClassifier(m, num_threads=1) for m in MODELS}
    config = classifiers["multi"].features
    assert config.cmvn and all(c.features == config for c in classifiers.values())
    plain = type(config)(**{**config.to_dict(), "cmvn": False})
    rng = np.random.default_rng(args.seed)
    report, t0 = {"models": list(MODELS), "arms": list(ARMS), "seed": args.seed,
                  "enrol_seconds": args.seconds, "corpora": {}}, time.monotonic()
    for corpus in load_development_corpora(corpus_folders(args.corpora)):
        labels = classifiers["multi"].labels
        items = sorted((it for it in corpus.items if it.label in labels), key=lambda it: str(it.path))
        shared = [lab for lab in labels if lab in {it.label for it in items}]
        raws, frames, lengths = [], [], []
        for it in items:
            x = load_audio(it.path, config.sample_rate)
            lengths.append(min(len(x), config.num_samples) / config.sample_rate)
            raws.append(extract(x, plain))               # fit_length + MFCC, no normalisation
            frames.append(clip_frames(len(x), config))
        by_speaker = defaultdict(list)
        for i, it in enumerate(items):
            by_speaker[it.speaker].append(i)
        norm = {"corpus": {}, "speaker": {}, "speaker-20s": {}}
        whole = stats(raws, frames)
        enrol_seconds = {}
        for spk, idx in by_speaker.items():
            norm["speaker"][spk] = stats([raws[i] for i in idx], [frames[i] for i in idx])
            order, chosen, total = rng.permutation(idx), [], 0.0
            for i in order:
                if total >= args.seconds:
                    break
                chosen.append(int(i))
                total += lengths[i]
            enrol_seconds[spk] = round(total, 2)
            norm["speaker-20s"][spk] = stats([raws[i] for i in chosen], [frames[i] for i in chosen])
            norm["corpus"][spk] = whole
        y = np.array([shared.index(it.label) for it in items])
        spk_of = np.array([it.speaker for it in items])
        entry = {"clips": len(items), "classes": shared, "speakers": len(by_speaker),
                 "enrol_seconds": {"min": min(enrol_seconds.values()), "max": max(enrol_seconds.values())},
                 "models": {}}
        for name, clf in classifiers.items():
            keep = [labels.index(lab) for lab in shared]
            res = {}
            for arm in ARMS:
                pred_shared, pred_free = [], []
                for it, raw in zip(items, raws):
                    if arm == "utterance":
                        feats = cmvn(raw, config.cmvn_variance)
                    else:
                        mu, sd = norm[arm][it.speaker]
                        feats = ((raw - mu) / sd).astype(np.float32)
                    p = clf.predict_features(feats)
                    pred_shared.append(int(np.argmax(p[keep])))
                    free = labels[int(np.argmax(p))]
                    pred_free.append(shared.index(free) if free in shared else -1)
                ps, pf = np.array(pred_shared), np.array(pred_free)
                s, f = scores(y, ps, shared), scores(y, pf, shared)
                res[arm] = {"uar_shared": s["uar"], "uar_free": f["uar"],
                            "recall_shared": s.get("recall"),
                            "per_speaker_shared": {sp: scores(y[spk_of == sp], ps[spk_of == sp], shared)["uar"]
                                                   for sp in sorted(by_speaker)}}
            for arm in ARMS[1:]:
                a, b = res[arm]["per_speaker_shared"], res["utterance"]["per_speaker_shared"]
                res[arm]["speakers_better"] = sum(a[s] > b[s] for s in a)
                res[arm]["speakers_worse"] = sum(a[s] < b[s] for s in a)
            entry["models"][name] = res
            print(f"{corpus.name} {name}: " + ", ".join(
                f"{arm} {100 * res[arm]['uar_shared']:.1f}/{100 * res[arm]['uar_free']:.1f}" for arm in ARMS),
                flush=True)
        report["corpora"][corpus.name] = entry
    lines = ["| model | arm | " + " | ".join(report["corpora"]) + " | mean (shared) | mean (free) | speakers better / worse |",
             "|---|---|" + "---:|" * (len(report["corpora"]) + 3)]
    for name in MODELS:
        for arm in ARMS:
            cells, sh, fr, better, worse = [], [], [], 0, 0
            for entry in report["corpora"].values():
                r = entry["models"][name][arm]
                cells.append(f"{100 * r['uar_shared']:.1f} ({100 * r['uar_free']:.1f})")
                sh.append(r["uar_shared"])
                fr.append(r["uar_free"])
                better += r.get("speakers_better", 0)
                worse += r.get("speakers_worse", 0)
            bw = "" if arm == "utterance" else f"{better} / {worse}"
            lines.append(f"| `{name}` | {arm} | " + " | ".join(cells)
                         + f" | {100 * np.mean(sh):.1f} | {100 * np.mean(fr):.1f} | {bw} |")
    report["machine"] = machine_info()
    report["seconds"] = round(time.monotonic() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "speaker-cmvn.json", report)
    write_text(args.out / "speaker-cmvn.md", "UAR on the classes each corpus shares with the model "
               "(in brackets: answering freely over all the model's classes).\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How much speech `listen` should hear before its first answer (`--min-speech`).

Every EMO-DB utterance of a fold's test speaker is streamed, with 1.5 s of silence around
it, through the live pipeline (0.5 s hops, 3-window smoothing, the default voice-activity
gate, threshold 0) using that fold's selected weights, so every answer is about a speaker
the model never saw. For each --min-speech value it reports:
  hop accuracy   share of answered hops whose label is the utterance's emotion
  hop UAR        the same as mean recall over emotions
  last UAR       UAR of the last answer of each utterance (what a user reads at the end)
  coverage       answered hops / hops the gate let through
  unanswered     utterances that got no answer at all (too short)

    python experiments/live-min-speech/stream_warmup.py /work/runs/emodb-3s ../shared/data/emodb \
        --out experiments/live-min-speech/stream-warmup-2026-11-25.json
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from sernet_edge.audio import load_audio
from sernet_edge.corpora import load_corpus
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.io import write_json, write_text
from sernet_edge.metrics import scores
from sernet_edge.stream.pipeline import LISTENING, SILENCE, UNCERTAIN, Pipeline
from sernet_edge.vad import make_gate

MIN_SPEECH = (0.0, 1.0, 1.5, 2.0, 2.5)  # at 0.5 s hops 0.5 s = 0 s: the first hop answers anyway
GAP_SECONDS = 1.5


class KerasWindowClassifier:
    """The three things Pipeline needs, backed by a Keras model."""

    def __init__(self, model, features: FeatureConfig, labels):
        self.model, self.features, self.labels = model, features, labels

    def predict_window(self, samples):
        x = extract(samples, self.features)[None, ..., None]
        return np.asarray(self.model(x, training=False))[0]


def stream_utterance(clf, samples, min_speech, vad):
    rate = clf.features.sample_rate
    gap = np.zeros(int(GAP_SECONDS * rate), np.float32)
    pipe = Pipeline(clf, 0.5, 3, 0.0, make_gate(vad, rate), min_speech=min_speech)
    return pipe.feed(np.concatenate([gap, samples, gap]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="output folder of `sernet-edge train`")
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vad", default="auto")
    args = ap.parse_args()

    from sernet_edge.train.trainer import finished_folds
    settings = json.loads((args.run / "settings.json").read_text())
    features = FeatureConfig.from_dict(settings["features"])
    corpus = load_corpus(args.corpus)
    labels = corpus.labels
    rows = {m: {"true": [], "pred": [], "last_true": [], "last_pred": [], "speech_hops": 0,
                "unanswered": 0} for m in MIN_SPEECH}
    folds = []
    for result, model in finished_folds(args.run):
        folds.append(result["fold"])
        clf = KerasWindowClassifier(model, features, labels)
        test = [it for it in corpus.items if it.speaker in result["test_speakers"]]
        print(f"{result['fold']}: {len(test)} utterances", flush=True)
        for item in test:
            samples = load_audio(item.path, features.sample_rate)
            truth = labels.index(item.label)
            for m in MIN_SPEECH:
                r = rows[m]
                events = stream_utterance(clf, samples, m, args.vad)
                r["speech_hops"] += sum(e.label != SILENCE for e in events)
                answers = [labels.index(e.label) for e in events
                           if e.label not in (SILENCE, UNCERTAIN, LISTENING)]
                r["true"] += [truth] * len(answers)
                r["pred"] += answers
                if answers:
                    r["last_true"].append(truth)
                    r["last_pred"].append(answers[-1])
                else:
                    r["unanswered"] += 1

    table = []
    for m, r in rows.items():
        hop = scores(r["true"], r["pred"], labels)
        last = scores(r["last_true"], r["last_pred"], labels)
        table.append({"min_speech": m, "hop_accuracy": hop["wa"], "hop_uar": hop["uar"],
                      "last_uar": last["uar"], "answered_hops": len(r["pred"]),
                      "speech_hops": r["speech_hops"],
                      "coverage": len(r["pred"]) / max(r["speech_hops"], 1),
                      "unanswered_utterances": r["unanswered"],
                      "answers_per_label": {lab: int(np.sum(np.array(r["pred"]) == i))
                                        for i, lab in enumerate(labels)}})
    report = {"run": str(args.run), "folds": folds, "vad": args.vad,
              "hop_seconds": 0.5, "smooth": 3, "threshold": 0.0, "gap_seconds": GAP_SECONDS,
              "machine": platform.platform(), "results": table}
    write_json(args.out, report)
    lines = ["| --min-speech | hop accuracy | hop UAR | last-answer UAR | coverage | unanswered |",
             "|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        lines.append(f"| {t['min_speech']:g} s | {100 * t['hop_accuracy']:.1f} | "
                     f"{100 * t['hop_uar']:.1f} | {100 * t['last_uar']:.1f} | "
                     f"{100 * t['coverage']:.1f}% | {t['unanswered_utterances']} |")
    write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

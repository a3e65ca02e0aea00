"""Does the noise-floor gate change answers on clean recordings? `multi` classifies the same
clips with the file gate as it was (a floor 30 dB under the loudest frame, -60 to -45 dBFS)
and as it is (also 6 dB over a steady noise floor); prints changed answers and UAR per corpus.

  python experiments/noise-floor-gate/clean_answers.py CREMA-D EMO-DB NEMO URDU TUREV-DB
"""

import functools
import json
import sys

import numpy as np

import sernet_edge.runtime as runtime
from sernet_edge.corpora import load_corpus
from sernet_edge.metrics import scores
from sernet_edge.speech import recording_gate

PER_CORPUS = 300


def main(folders):
    clf = runtime.EmotionClassifier("multi")
    out = {}
    for folder in folders:
        corpus = load_corpus(folder)
        items = sorted((it for it in corpus.items if it.label in clf.labels), key=lambda it: str(it.path))
        items = [items[i * len(items) // PER_CORPUS] for i in range(min(PER_CORPUS, len(items)))]
        answers, speech = {}, {}
        for track in (False, True):
            runtime.recording_gate = functools.partial(recording_gate, track_noise=track)
            rs = [clf.classify_file(it.path) for it in items]
            answers[track] = [r.label for r in rs]
            speech[track] = float(np.sum([r.speech_seconds for r in rs]))
        idx = {lab: i for i, lab in enumerate(clf.labels)}
        truth = [idx[it.label] for it in items]
        uar = {t: 100 * scores(truth, [idx.get(a, -1) for a in answers[t]], clf.labels)["uar"]
               for t in (False, True)}
        changed = sum(a != b for a, b in zip(answers[False], answers[True]))
        out[corpus.name] = {"clips": len(items), "changed": changed, "uar_before": round(uar[False], 2),
                            "uar_after": round(uar[True], 2),
                            "speech_seconds_before": round(speech[False], 1),
                            "speech_seconds_after": round(speech[True], 1)}
        print(corpus.name, out[corpus.name], flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])

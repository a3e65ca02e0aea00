"""Guards on a run, above all a fine-tune (`train --init`): warnings before it starts, and the
start model scored beside the adapted one on the same held-out speakers after.

Before: a class with fewer than MIN_CLIPS clips, and a class the start model does not have
(its classifier row starts from nothing), each get a warning on standard error. MIN_CLIPS
comes from experiments/adapt-to-new-speakers/: the smallest adaptation that beat its start on
every draw was one speaker's clips, 30 to 61 over six classes, i.e. 5 to 10 a class on
average; nothing smaller was tried, and a folder with a single clip of a class took that
class's recall on other speakers from 81 to 19 % (issue 48: `multi` fine-tuned on EMO-DB
speakers 03 and 08, one disgust clip between them). Under 5 a class is outside what was
measured to help.

After: every fold's held-out speakers are scored by the start model too (the Keras network it
was rebuilt as, on the same centre crops as the adapted fold model), on the clips of the
classes both models have, the start answering among the run's classes it knows. `report.json`
pools them (`versus_start`) and `train` says which model is better; with no held-out speaker
(`--folds none`) it says how to check with `evaluate` instead.
"""

from __future__ import annotations

import functools

import numpy as np

from sernet_edge.metrics import scores

MIN_CLIPS = 5          # clips a class: see above (experiments/adapt-to-new-speakers/)
RECALL_DROP = 0.10     # a class whose held-out recall falls by more than this is named


def start_name(init) -> str:
    """How messages name the start: a bundled name as given, else the file's name."""
    from pathlib import Path
    from sernet_edge.train import bundled
    return str(init) if bundled.is_bundled(init) else Path(str(init)).name or str(init)


def class_warnings(corpus, init: str = "", start_labels: list[str] | None = None) -> list[str]:
    """One line for the classes with fewer than MIN_CLIPS clips, one for the classes the start
    model lacks (with --init, where its classes are known)."""
    counts = corpus.counts()["label"]
    lines = []
    few = [(lab, counts[lab]) for lab in corpus.labels if counts[lab] < MIN_CLIPS]
    if few:
        listed = ", ".join(f"{lab} ({n} clip{'s' if n != 1 else ''})" for lab, n in few)
        lines.append(f"few clips of {listed}: under {MIN_CLIPS} a class is below the smallest "
                     "adaptation measured to help (experiments/adapt-to-new-speakers/), and its "
                     "recall on other speakers may fall; record more, or leave it out with --labels")
    if init and start_labels is not None:
        new = [lab for lab in corpus.labels if lab not in start_labels]
        if new:
            name = start_name(init)
            lines.append(f"{name} has no class {', '.join(new)} (it has {', '.join(start_labels)}): "
                         f"{'it starts' if len(new) == 1 else 'they start'} from nothing and "
                         f"{'is' if len(new) == 1 else 'are'} learnt from these clips alone; "
                         "compare the adapted model with the start on speakers it did not use")
    return lines


@functools.cache
def _start_model(init):
    from sernet_edge.train.trainer import load_init_model
    return load_init_model(init)


def versus_start(init, X, y, pred, labels: list[str], start_labels: list[str] | None) -> dict | None:
    """The start model and the adapted one on the same held-out clips (a fold's test speakers):
    the clips of the classes both have; the start answers among the run's classes it knows.
    {"classes", "n", "y_true", "adapted", "start"} (predictions as indices into `labels`), or
    None where the start's classes are not known."""
    from sernet_edge.train.model import with_input_frames
    from sernet_edge.train.trainer import predict
    if start_labels is None or len(y) == 0:
        return None
    shared = [lab for lab in labels if lab in start_labels]
    if not shared:
        return None
    model = _start_model(init)
    if model.output_shape[-1] != len(start_labels):
        return None
    if model.input_shape[1] != X.shape[1]:
        model = with_input_frames(model, X.shape[1])
    p = predict(model, X)
    cols = [start_labels.index(lab) for lab in shared]
    start_pred = np.array([labels.index(shared[i]) for i in p[:, cols].argmax(1)])
    keep = np.isin(np.asarray(y), [labels.index(lab) for lab in shared])
    return {"classes": shared, "n": int(keep.sum()),
            "y_true": np.asarray(y)[keep].tolist(),
            "adapted": np.asarray(pred)[keep].tolist(), "start": start_pred[keep].tolist()}


def pooled(results: list[dict], labels: list[str], init, corpus=None) -> dict | None:
    """Every fold's `versus_start`, pooled: each model's scores on the shared classes, which
    is better (UAR), and how many of the held-out clips' speakers the start itself heard in
    training (then its score is optimistic). None when no fold has one."""
    parts = [r["versus_start"] for r in results if r.get("versus_start")]
    if not parts:
        return None
    classes = parts[0]["classes"]
    y = [t for p in parts for t in p["y_true"]]
    a = [t for p in parts for t in p["adapted"]]
    s = [t for p in parts for t in p["start"]]
    if not y:
        return None
    idx = [labels.index(c) for c in classes]
    # scores over the shared classes only: a clip answered with a new class is wrong
    remap = {j: i for i, j in enumerate(idx)}
    yt = [remap[t] for t in y]
    adapted = scores(yt, [remap.get(t, -1) for t in a], classes)
    start = scores(yt, [remap.get(t, -1) for t in s], classes)
    diff = adapted["uar"] - start["uar"]
    better = "adapted" if diff > 0 else "start" if diff < 0 else "neither"
    fell = {c: [start["recall"][c], adapted["recall"][c]] for c in classes
            if c in adapted["recall"] and start["recall"][c] - adapted["recall"][c] > RECALL_DROP}
    speakers = sorted({spk for r in results if r.get("versus_start") for spk in r.get("test_speakers") or []})
    return {"start": start_name(init), "classes": classes, "n": len(y), "speakers": speakers,
            "start_heard_clips": _heard_by_start(init, corpus, speakers, classes),
            "note": "each fold's held-out speakers, scored by the adapted fold model and by the "
                    "start (centre crops, as folds are scored), on the classes both have",
            "adapted_scores": adapted, "start_scores": start, "uar_difference": diff,
            "better": better, "recall_fell": fell}


def _heard_by_start(init, corpus, speakers, classes) -> int | None:
    """How many clips of the held-out `speakers` (of `classes`) the start heard in training."""
    if corpus is None:
        return None
    from sernet_edge import heard
    from sernet_edge.train.trainer import _init_description
    known = heard.trained_on(_init_description(init) or {})
    if known is None:
        return None
    held = set(speakers)
    return sum(1 for it in corpus.items if it.speaker in held and it.label in classes
               and heard.is_heard(known, it.path, it.corpus or corpus.name, it.speaker))


def summary_lines(report: dict, init) -> list[str]:
    """What `train` prints after a run from --init: which model did better on held-out
    speakers, or how to check when none was held out."""
    if not init:
        return []
    v = report.get("versus_start")
    name = start_name(init)
    if not v:
        return [f"no speaker held out, so the adapted model is not compared with {name}: check "
                f"it with `sernet-edge evaluate` on speakers the adaptation did not use, beside "
                f"`sernet-edge evaluate {name}` on the same speakers"]
    a, s = 100 * v["adapted_scores"]["uar"], 100 * v["start_scores"]["uar"]
    n_spk = len(v["speakers"])
    if v["better"] == "adapted":
        verdict = f"the adapted model is better by {a - s:.2f} points"
    elif v["better"] == "start":
        verdict = f"{name} is better by {s - a:.2f} points: the adaptation made them worse"
    else:
        verdict = "they score the same"
    lines = [f"versus {name} on the {n_spk} held-out speaker{'s' if n_spk != 1 else ''} "
             f"({v['n']} clip{'s' if v['n'] != 1 else ''} of {', '.join(v['classes'])}):",
             f"  adapted UAR {a:.2f}, {name} {s:.2f}: {verdict}"]
    if v.get("start_heard_clips"):
        lines.append(f"  {name} heard these speakers in training ({v['start_heard_clips']} of the "
                     f"{v['n']} clips): its score is optimistic")
    if v["recall_fell"]:
        fell = v["recall_fell"].items()
        lines.append("  recall fell for " + ", ".join(f"{c} {100 * before:.0f} -> {100 * after:.0f}"
                                                      for c, (before, after) in fell))
    return lines

"""`sernet-edge evaluate`: how well a model does on labelled recordings (no TensorFlow)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import click

from sernet_edge.cli.options import SPEECH_GATE_HELP, corpus_options
from sernet_edge.vad import VAD_CHOICES

POOLED = "pooled"


@click.command()
@click.argument("model", metavar="MODEL")
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option("--labels", default=None, metavar="A,B,...",
              help="Score only clips of these classes (each must be one of the model's).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Score at most N clips per corpus, spread evenly over it (same N, same clips).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              metavar="DIR",
              help="Also write DIR/evaluate.json (everything, per-clip predictions included), "
                   "DIR/evaluate.txt (the table) and DIR/confusion-<corpus>.png "
                   "(+ confusion-pooled.png; PNGs need matplotlib).")
@click.option("--hop", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              metavar="SECONDS",
              help="Seconds between windows on clips longer than the model's input.")
@click.option("--vad", type=click.Choice(VAD_CHOICES), default="auto", show_default=True,
              help=SPEECH_GATE_HELP)
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N",
              help="Interpreter threads (default: LiteRT's).")
@click.option("--noise", default=None, metavar="KIND|PATH",
              help="Play each clip in noise, as a room would: white, pink, brown, babble (other "
                   "speakers of the corpus, or of --babble-from), or your own recordings (a file "
                   "or a folder of them). The noise runs through the whole clip and a second "
                   "before and after it; --snr sets its level under the speech.")
@click.option("--snr", type=float, default=None, metavar="DB",
              help="Speech-to-noise ratio for --noise, in dB, measured on the speech.")
@click.option("--reverb", type=float, default=None, metavar="RT60",
              help="Play each clip in a simulated room with this reverberation time (seconds, "
                   "a living room is 0.4-0.6), speaker 1-3 m from the microphone; needs the "
                   "[rooms] extra.")
@click.option("--babble-from", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, metavar="CORPUS", help="Voices for --noise babble.")
@click.option("--noise-seed", type=int, default=0, show_default=True,
              help="Seed of the noise and room draws (the same seed, the same mix).")
def evaluate(model, corpora, labels, limit, output, hop, vad, threads, noise, snr, reverb,
             babble_from, noise_seed, **corpus_opts):
    """Score MODEL on one or more labelled corpus folders.

    \b
    MODEL is a .tflite file with its card, or a bundled model's name (multi,
    multi-float16, multi-micro, multi-s, multi-s-float16, multi-s-micro, multi-xs,
    multi-xs-float16, multi-xs-micro, emodb, emodb-float16).
    CORPUS is a folder in any layout `sernet-edge data info` knows.

    Each clip is classified whole, as `classify` does (its speech only, windows every --hop
    seconds, mean probabilities); the prediction is the model's most probable class, and a
    clip in which the gate finds no speech counts as wrong (standard error says how many). Clips of classes the
    model does not have are left out (standard error says how many). Standard output gets a
    table per corpus, and pooled over all corpora when there are several: n, UAR (mean
    recall over the classes present), WA (accuracy), macro F1 and each class's recall, in %.

    Speakers the model heard in training (its card says which) score optimistically: every
    such corpus is marked `*` ("heard in training: scores are optimistic"), a corpus with both
    kinds gets a row for each, and the UAR per speaker under the table puts them apart.

    With -o DIR everything is written there as well (files replaced atomically): the model,
    each corpus's root and counts, what was left out, scores with confusion matrices (rows
    true, columns predicted, in the model's label order), UAR per speaker, and every clip's
    file, speaker, true class, prediction and confidence (and whether the model heard it in
    training: `heard`, with the heard and never-heard parts' scores per corpus).
    """
    from sernet_edge import heard as heard_in_training
    from sernet_edge.cli.options import corpus_kwargs
    from sernet_edge.corpora import load_corpus
    from sernet_edge.errors import CorpusError
    from sernet_edge.runtime import EmotionClassifier

    clf = EmotionClassifier(model, num_threads=threads, hop_seconds=hop, vad=vad)
    heard = heard_in_training.trained_on(clf.card)
    wanted = parse_labels(labels, clf.labels)
    loaded = []
    for path in corpora:
        corpus = load_corpus(path, **corpus_kwargs(corpus_opts))
        if corpus.name in [c.name for c, _ in loaded] or corpus.name == POOLED:
            raise CorpusError(f"{path}: a second corpus named {corpus.name!r} "
                              "(rename the folder: results are kept by corpus name)")
        loaded.append((corpus, select(corpus, clf.labels, wanted, limit)))
        _say_left_out(corpus.name, loaded[-1][1])

    results, failed = [], []
    show_bar = sys.stderr.isatty()
    room = make_room(noise, snr, reverb, noise_seed)
    for corpus, sel in loaded:
        if room is not None and room.kind == "babble":
            room.talkers = talkers_for(babble_from or corpus, corpus_opts, noise_seed)
        clips, bad = [], []
        with click.progressbar(sel["items"], label=corpus.name, file=sys.stderr,
                               hidden=not show_bar or len(sel["items"]) < 2) as bar:
            for item in bar:
                clip = score_clip(clf, corpus, item, room)
                (bad if "error" in clip else clips).append(clip)
        if not clips:
            raise CorpusError(f"{corpus.root}: none of its {len(bad)} clips could be read: "
                              f"first: {bad[0]['error']}")
        failed += bad
        results.append(corpus_report(corpus, sel, clips, bad, clf.labels))
        heard_in_training.mark(results[-1], corpus.name, heard,
                               lambda part: summary(part, clf.labels))
        _say_flagged(corpus.name, clips)
    pooled = None
    if len(results) > 1:
        every = [{**c, "speaker": f"{r['name']}/{c['speaker']}"} for r in results for c in r["clips"]]
        pooled = summary(every, clf.labels)
        if heard is not None:
            heard_in_training.split(pooled, every, lambda part: summary(part, clf.labels))
    text = table(clf, results, pooled, room)
    click.echo(text, nl=False)
    if failed:
        click.echo(f"{len(failed)} clip{'s' if len(failed) > 1 else ''} could not be read: "
                   f"first: {failed[0]['error']}", err=True)
    if output is not None:
        from sernet_edge import __version__
        report = {"command": "evaluate", "sernet_edge_version": __version__,
                  "model": model_info(clf),
                  "options": {"labels": wanted, "limit": limit, "hop": hop, "vad": vad,
                              **corpus_opts},
                  "condition": room_info(room, noise, babble_from),
                  "corpora": results, POOLED: pooled}
        write_outputs(output, report, text, clf.labels)


# ---- the room ----

def make_room(noise, snr, reverb, seed):
    """The listening condition the options ask for, or None for the recordings as they are."""
    from sernet_edge.errors import SernetError
    from sernet_edge.noise import KINDS, Room, read_noise_files
    if noise is None and snr is not None:
        raise SernetError("--snr needs --noise")
    if noise is not None and snr is None:
        raise SernetError("--noise needs --snr (the speech's level over the noise, in dB)")
    if noise is None and reverb is None:
        return None
    if noise is None or noise in KINDS:
        return Room(noise, snr, reverb, seed)
    return Room("files", snr, reverb, seed, noises=read_noise_files([noise]))


def talkers_for(source, corpus_opts, seed):
    """Babble voices: another corpus's folder, or the corpus being scored (each clip then
    hears only its own corpus's other speakers)."""
    from sernet_edge.cli.options import corpus_kwargs
    from sernet_edge.corpora import load_corpus
    from sernet_edge.noise import Talkers
    corpus = source if hasattr(source, "items") else load_corpus(source, **corpus_kwargs(corpus_opts))
    return Talkers([(str(it.path), it.speaker) for it in corpus.items], seed=seed)


def room_info(room, noise, babble_from) -> dict | None:
    if room is None:
        return None
    return {"name": room.name, "noise": noise, "snr_db": room.snr_db, "rt60": room.rt60,
            "seed": room.seed, "pad_seconds": room.pad_seconds,
            "babble_from": str(babble_from) if babble_from else None}


# ---- the model ----

def model_info(clf) -> dict:
    card = clf.card
    return {"file": str(clf.path), "name": card.get("name") or clf.path.stem,
            "precision": card.get("precision"), "labels": list(clf.labels),
            "trained_on": (card.get("source") or {}).get("corpus"),
            "heard_in_training": heard_speakers(card),
            "weights_sha256": card.get("weights_sha256")}


def heard_speakers(card: dict) -> dict | None:
    from sernet_edge import heard
    return heard.describe(heard.trained_on(card))


def parse_labels(text: str | None, model_labels: list[str]) -> list[str] | None:
    from sernet_edge.corpora import to_vocabulary
    from sernet_edge.errors import SernetError

    if text is None:
        return None
    names = [to_vocabulary(t) for t in text.split(",") if t.strip()]
    if not names:
        raise SernetError("--labels names no label")
    for name in names:
        if name not in model_labels:
            raise SernetError(f"--labels: the model has no class {name!r} "
                              f"(it has: {', '.join(model_labels)})")
    return [lab for lab in model_labels if lab in names]   # the model's order


# ---- which clips ----

def select(corpus, model_labels, wanted=None, limit=None) -> dict:
    """The corpus's clips to score, sorted by path, and counts of those left out and why."""
    from sernet_edge.errors import CorpusError

    items = sorted(corpus.items, key=lambda it: str(it.path))
    present = sorted({it.label for it in items})
    not_in_model = Counter(it.label for it in items if it.label not in model_labels)
    items = [it for it in items if it.label in model_labels]
    if not items:
        raise CorpusError(f"{corpus.root}: no clip has a class the model knows (corpus: "
                          f"{', '.join(present)}; model: {', '.join(model_labels)})")
    not_in_labels = Counter()
    if wanted is not None:
        not_in_labels = Counter(it.label for it in items if it.label not in wanted)
        items = [it for it in items if it.label in wanted]
        if not items:
            raise CorpusError(f"{corpus.root}: no clip of --labels {','.join(wanted)} "
                              f"(corpus: {', '.join(present)})")
    available = len(items)
    if limit is not None and limit < len(items):
        items = spread(items, limit)
    return {"items": items, "available": available, "not_in_model": dict(sorted(not_in_model.items())),
            "not_in_labels": dict(sorted(not_in_labels.items()))}


def spread(items: list, n: int) -> list:
    """n of the items, evenly spaced from the first (strictly increasing when n <= len)."""
    return [items[i * len(items) // n] for i in range(n)]


def _say_left_out(name: str, sel: dict) -> None:
    gone = sel["not_in_model"]
    if gone:
        n = sum(gone.values())
        click.echo(f"{name}: {n} clip{'s' if n > 1 else ''} of {', '.join(gone)} left out: "
                   "the model has no such class" + ("es" if len(gone) > 1 else ""), err=True)


def _say_flagged(name: str, clips: list[dict]) -> None:
    """One line for the clips without speech and for each warning, if any."""
    from sernet_edge.speech import NO_SPEECH
    silent = sum(c["predicted"] == NO_SPEECH for c in clips)
    flags = Counter(code for c in clips for code in c.get("warnings", ()))
    if silent:
        click.echo(f"{name}: {silent} clip{'s' if silent > 1 else ''} with no speech found "
                   "(counted as wrong)", err=True)
    if flags:
        click.echo(f"{name}: clips flagged: " + ", ".join(f"{k} {v}" for k, v in sorted(flags.items()))
                   + " (see classify --help)", err=True)


# ---- scoring ----

def score_clip(clf, corpus, item, room=None) -> dict:
    """One clip's answer; with `room`, the clip as that room's microphone hears it."""
    from sernet_edge.errors import SernetError

    rel = _relative(item.path, corpus.root)
    try:
        if room is None:
            r = clf.classify_file(item.path)
        else:
            from sernet_edge.audio import audio_info, load_audio
            heard = room.apply(load_audio(item.path), rel, item.speaker)
            r = clf.classify_array(heard, recorded_rate=audio_info(item.path)[1])
    except SernetError as e:
        return {"file": rel, "speaker": item.speaker, "true": item.label, "error": str(e)}
    clip = {"file": rel, "speaker": item.speaker, "true": item.label, "predicted": r.label,
            "confidence": None if r.confidence is None else round(r.confidence, 6),
            "speech_seconds": r.speech_seconds, "snr_db": r.snr_db}
    if r.warnings:
        clip["warnings"] = [w["code"] for w in r.warnings]
    return clip


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def summary(clips: list[dict], labels: list[str]) -> dict:
    """Scores over clips (model label order), per-class counts, and UAR per speaker."""
    from sernet_edge.metrics import scores

    index = {lab: i for i, lab in enumerate(labels)}
    y_true = [index[c["true"]] for c in clips]
    y_pred = [index.get(c["predicted"], -1) for c in clips]   # -1: no speech
    out = {"n": len(clips), "counts": {lab: n for lab in labels
                                       if (n := sum(c["true"] == lab for c in clips))},
           "scores": scores(y_true, y_pred, labels)}
    by_speaker: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        by_speaker.setdefault(c["speaker"], []).append(i)
    out["speakers"] = {}
    for spk in sorted(by_speaker):
        idx = by_speaker[spk]
        s = scores([y_true[i] for i in idx], [y_pred[i] for i in idx], labels)
        out["speakers"][spk] = {"n": s["n"], "uar": s["uar"], "wa": s["wa"]}
    return out


def corpus_report(corpus, sel, clips, bad, labels) -> dict:
    report = {"name": corpus.name, "root": str(corpus.root), "n": len(clips),
              "available": sel["available"],
              "left_out": {"not_in_model": sel["not_in_model"], "not_in_labels": sel["not_in_labels"],
                           "unreadable": len(bad)},
              **{k: v for k, v in summary(clips, labels).items() if k != "n"},
              "failed": [{"file": c["file"], "error": c["error"]} for c in bad],
              "clips": clips}
    return report


# ---- output ----

def table(clf, results, pooled, room=None) -> str:
    from sernet_edge import heard
    labels = clf.labels
    rows = [(r["name"], r) for r in results] + ([(POOLED, pooled)] if pooled else [])
    rows = [row for name, r in rows for row in [(name, r), *heard.rows(r)]]
    name_w = max(len(name) for name, _ in rows + [("corpus", None)])
    col = [max(len(lab), 6) for lab in labels]
    lines = [f"model  {clf.path.name} ({clf.card.get('precision')}, {len(labels)} classes)"]
    if room is not None:
        lines.append(f"room   {room.name} (noise through each clip and {room.pad_seconds:g} s "
                     "each side, SNR on the speech)")
    lines += ["",
             f"{'corpus':<{name_w}}  {'n':>6}  {'UAR':>6}  {'WA':>6}  {'F1':>6}   "
             + "  ".join(f"{lab:>{w}}" for lab, w in zip(labels, col))]
    for name, r in rows:
        s = r["scores"]
        recall = [f"{100 * s['recall'][lab]:>{w}.2f}" if lab in s["recall"] else f"{'-':>{w}}"
                  for lab, w in zip(labels, col)]
        lines.append(f"{name:<{name_w}}  {r['n']:>6}  {100 * s['uar']:6.2f}  {100 * s['wa']:6.2f}  "
                     f"{100 * s['f1']:6.2f}   " + "  ".join(recall) + heard.flag(r))
    lines += ["", "in %: UAR mean recall over the classes present, WA accuracy, F1 macro F1, then",
              "each class's recall (-: no clip of that class)"]
    lines += heard.footnote(results, clf.card)
    lines += [""] + heard.speaker_table(results)
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, report: dict, text: str, labels: list[str]) -> None:
    from sernet_edge.io import make_dirs, write_text

    make_dirs(out)
    write_text(out / "evaluate.json", compact_json(report) + "\n")
    write_text(out / "evaluate.txt", text)
    from sernet_edge import plots
    from sernet_edge.plots import INSTALL_HINT
    parts = [(r["name"], r) for r in report["corpora"]]
    if report[POOLED]:
        parts.append((POOLED, report[POOLED]))
    for name, r in parts:
        s = r["scores"]
        title = f"{name}, n {r['n']}, UAR {100 * s['uar']:.1f}%"
        try:
            plots.confusion_png(s["confusion"], labels, out / f"confusion-{_safe(name)}.png", title)
        except ImportError as e:
            if not (e.name or "").startswith("matplotlib"):
                raise
            click.echo(f"confusion PNGs not written: they need matplotlib ({INSTALL_HINT})", err=True)
            return


def compact_json(obj, indent: str = "", lead: int = 0, row: bool = False, width: int = 100) -> str:
    """Indented JSON in which a list or object stays on one line when it fits in `width`
    columns, and a list's flat objects (clips) always do: one line per clip and per
    confusion-matrix row, so the file reads and diffs well."""
    import json

    flat = json.dumps(obj)
    scalar = (str, int, float, bool, type(None))
    if (not isinstance(obj, (dict, list)) or not obj or len(indent) + lead + len(flat) <= width
            or row and isinstance(obj, dict) and all(isinstance(v, scalar) for v in obj.values())):
        return flat
    inner = indent + "  "
    if isinstance(obj, dict):
        body = []
        for k, v in obj.items():
            key = f"{json.dumps(str(k))}: "
            body.append(f"{inner}{key}{compact_json(v, inner, len(key), False, width)}")
        return "{\n" + ",\n".join(body) + f"\n{indent}}}"
    body = [inner + compact_json(v, inner, 0, True, width) for v in obj]
    return "[\n" + ",\n".join(body) + f"\n{indent}]"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "corpus"

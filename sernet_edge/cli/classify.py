"""`sernet-edge classify`: emotions of recorded speech, from the shell."""

from __future__ import annotations

import csv
import glob
import io
import json
import sys
from pathlib import Path

import click

from sernet_edge.audio import AUDIO_EXTENSIONS
from sernet_edge.cli.options import MODEL_HELP, SPEECH_GATE_HELP
from sernet_edge.vad import VAD_CHOICES

FORMATS = ("table", "json", "csv")


EXIT_NO_SPEECH = 3    # every input was read, and some held no speech


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|FOLDER|GLOB...")
@click.option("-m", "--model", type=click.Path(path_type=str), default=None, help=MODEL_HELP)
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the -o file's .json or .csv, else table).")
@click.option("--windows", is_flag=True,
              help="Show every window's result, not only the whole-file answer (table and csv).")
@click.option("--segments", is_flag=True,
              help="Show each file's emotion timeline: its windows joined into segments of one "
                   "answer (start, end, label, confidence), in every format.")
@click.option("--plot", type=click.Path(path_type=str), default=None, metavar="FILE.png",
              help="Draw each file's timeline (window probabilities and segments) into FILE.png "
                   "(matplotlib: the [plot] extra).")
@click.option("--hop", type=float, default=1.0, show_default=True,
              help="Seconds between windows on speech longer than the model's input.")
@click.option("--vad", type=click.Choice(VAD_CHOICES), default="auto", show_default=True,
              help=SPEECH_GATE_HELP)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Interpreter threads (default: LiteRT's).")
@click.option("-o", "--output", type=click.Path(path_type=str), default=None,
              help="Write the results to this file (atomically) instead of standard output.")
def classify(inputs, model, fmt, windows, segments, plot, hop, vad, threads, output):
    """Classify the emotion in each audio file.

    Inputs may be files, folders (searched recursively for audio) or glob patterns. The
    answer comes from speech only: silence, long pauses and noise below the voice-activity
    gate are left out, and a file without speech answers `no speech`. Speech longer than the
    model's window is cut into windows every --hop seconds; the answer is the mean of the
    windows' probabilities. Each result gives the seconds of speech it was decided on, and
    warns (here and on standard error) when the input costs accuracy: under 1.5 s of speech,
    recorded below 16 kHz, with nothing above 4 kHz or little above 7 kHz, or clipped.

    A long recording of several emotions averages them: the table marks a file whose windows
    disagree ([mixed]), and --segments gives its timeline instead (each window averaged with
    its neighbours, the same answers joined; sernet_edge/segments.py), --plot draws it.
    A file named twice (directly and in a folder or glob) is classified once.

    \b
    Exit codes: 0 every file answered; 3 some file held no speech; 2 some input
    could not be read (reported as one `error:` line each; the rest are still
    classified). JSON and CSV also carry each failed file with its error, so a
    program reading them accounts for every input.
    """
    from sernet_edge.errors import SernetError
    from sernet_edge.runtime import EmotionClassifier

    fmt = fmt or format_for(output)
    files = expand_inputs(inputs)
    if hop <= 0:
        raise SernetError(f"--hop must be positive, got {hop}")
    if plot:
        from sernet_edge.extras import require
        require("matplotlib", "classify --plot")     # before minutes of classifying
    clf = EmotionClassifier(model, num_threads=threads, hop_seconds=hop, vad=vad)
    results, failures = [], 0
    show_bar = len(files) > 1 and sys.stderr.isatty()
    with click.progressbar(files, label="classifying", file=sys.stderr,
                           hidden=not show_bar) as bar:
        for path in bar:
            try:
                results.append((path, clf.classify_file(path), None))
            except SernetError as e:
                failures += 1
                results.append((path, None, str(e)))
                click.echo(f"error: {e}", err=True)
                continue
            for warning in results[-1][1].warnings:
                click.echo(f"warning: {path}: {warning['message']}", err=True)
    from sernet_edge.segments import segments as timeline
    segs = {i: timeline(r.windows, clf.labels) for i, (_, r, _) in enumerate(results) if r is not None}
    text = {"table": _table, "json": _json, "csv": _csv}[fmt](results, clf.labels, windows,
                                                              segs if segments else None, segs)
    if output:
        from sernet_edge.io import write_text
        write_text(output, text)
    else:
        click.echo(text, nl=False)
    drawn = [(Path(p).name, r, segs[i]) for i, (p, r, _) in enumerate(results) if r is not None]
    if plot and drawn:
        from sernet_edge.plots import timeline_png
        timeline_png(drawn, clf.labels, plot)
    if failures:
        sys.exit(2)
    if any(not r.has_speech for _, r, _ in results):
        sys.exit(EXIT_NO_SPEECH)


def format_for(output: str | None) -> str:
    """The format an output file's name asks for: .json, .csv, else the table."""
    suffix = Path(output).suffix.lower().lstrip(".") if output else ""
    return suffix if suffix in ("json", "csv") else "table"


def expand_inputs(inputs) -> list[str]:
    """Files as given; folders searched recursively for audio; globs expanded. Order kept; a
    file named twice (directly and through a folder or glob) is kept once, where first named."""
    from sernet_edge.errors import SernetError
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS
                           and f.is_file())
            if not found:
                raise SernetError(f"{item}: folder holds no audio files")
            files += found
        elif any(c in item for c in "*?[") and not p.exists():
            found = sorted(glob.glob(item, recursive=True))
            if not found:
                raise SernetError(f"{item}: pattern matches no files")
            files += found
        else:
            files.append(item)  # missing files are reported one by one
    return _once(files)


def _once(files: list[str]) -> list[str]:
    """`files` without a second naming of the same file (same resolved path)."""
    seen, out = set(), []
    for f in files:
        try:
            key = Path(f).resolve()
        except OSError:
            key = f
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _table(results, labels, windows, segments=None, timelines=None) -> str:
    from sernet_edge.segments import disagree
    if all(r is None for _, r, _ in results):
        return ""   # nothing classified: the error lines are the whole report
    width = max([len(Path(p).name) for p, r, _ in results if r is not None] + [4])
    lines = [f"{'file':<{width}}  {'emotion':<10} {'conf':>5}  {'secs':>6}  {'speech':>6}  "
             f"{'SNR':>5}  top-3"]
    mixed = False
    for i, (path, r, err) in enumerate(results):
        name = Path(path).name
        if err:
            continue   # already reported on standard error, once
        top3 = sorted((r.probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
        conf = f"{r.confidence:5.2f}" if r.has_speech else f"{'-':>5}"
        flags = "".join(f"  [{w['code']}]" for w in r.warnings)
        snr = f"{r.snr_db:5.1f}" if r.snr_db is not None else f"{'-':>5}"
        segs = (timelines or {}).get(i, [])
        if disagree(segs):
            mixed = True
            flags += f"  [mixed: {len(segs)} segments]"
        lines.append(f"{name:<{width}}  {r.label:<10} {conf}  {r.duration:6.2f}  "
                     f"{r.speech_seconds:6.2f}  {snr}  "
                     + "  ".join(f"{k} {v:.2f}" for k, v in top3) + flags)
        if segments is not None and len(segments.get(i, [])) > 1:
            for s in segments[i]:
                lines.append(f"{'':<{width}}    {s.start:6.2f}-{s.end:6.2f} s  {s.label:<10} "
                             f"{s.confidence:5.2f}  ({s.windows} window{'s' if s.windows > 1 else ''})")
        if windows and len(r.windows) > 1:
            for w in r.windows:
                lines.append(f"{'':<{width}}    {w.start:6.2f}-{w.end:6.2f} s  {w.label:<10} "
                             f"{w.confidence:5.2f}")
    if mixed:
        lines.append("[mixed]: the windows disagree, so the answer averages several emotions: "
                     "--segments gives the timeline" if segments is None else
                     "[mixed]: the windows disagree: the rows under the file are its segments")
    return "\n".join(lines) + "\n"


def _json(results, labels, windows, segments=None, timelines=None) -> str:
    out = []
    for i, (path, r, err) in enumerate(results):
        out.append({"file": str(path), "error": err} if err else {"file": str(path), **r.to_dict()})
        if segments is not None and not err:
            out[-1]["segments"] = [s.to_dict() for s in segments[i]]
    return json.dumps(out, indent=2) + "\n"


def _csv(results, labels, windows, segments=None, timelines=None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # `row` says what a line is: the whole file's answer, one segment (--segments) or one
    # window (--windows) of it
    w.writerow(["file", "row", "start", "end", "speech_seconds", "snr_db", "label", "confidence",
                *[f"p_{lab}" for lab in labels], "warnings", "error"])
    for i, (path, r, err) in enumerate(results):
        if err:
            w.writerow([path, "file", "", "", "", "", "", "", *[""] * len(labels), "", err])
            continue
        probs = [f"{r.probabilities[lab]:.6f}" for lab in labels] if r.has_speech else [""] * len(labels)
        w.writerow([path, "file", 0.0, r.duration, r.speech_seconds,
                    "" if r.snr_db is None else r.snr_db, r.label,
                    f"{r.confidence:.6f}" if r.has_speech else "", *probs,
                    "; ".join(x["message"] for x in r.warnings), ""])
        if segments is not None:
            for s in segments[i]:
                w.writerow([path, "segment", s.start, s.end, "", "", s.label, f"{s.confidence:.6f}",
                            *[""] * len(labels), "", ""])
        if windows:
            for win in r.windows:
                w.writerow([path, "window", win.start, win.end, "", "", win.label,
                            f"{win.confidence:.6f}",
                            *[f"{win.probabilities[lab]:.6f}" for lab in labels], "", ""])
    return buf.getvalue()

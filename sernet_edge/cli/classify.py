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


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|FOLDER|GLOB...")
@click.option("-m", "--model", type=click.Path(path_type=str), default=None,
              help="A .tflite model with its card, or a bundled model by name: emodb, emodb-float16, multi, multi-float16 (default: multi).")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@click.option("--windows", is_flag=True,
              help="Show every window's result, not only the whole-file answer (table and csv).")
@click.option("--hop", type=float, default=1.0, show_default=True,
              help="Seconds between windows on audio longer than the model's input.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Interpreter threads (default: LiteRT's).")
@click.option("-o", "--output", type=click.Path(path_type=str), default=None,
              help="Write the results to this file (atomically) instead of standard output.")
def classify(inputs, model, fmt, windows, hop, threads, output):
    """Classify the emotion in each audio file.

    Inputs may be files, folders (searched recursively for audio) or glob patterns. Audio
    longer than the model's window is cut into windows every --hop seconds; the answer is
    the mean of the windows' probabilities. A file that fails is reported once, as one
    `error:` line on standard error, and the rest are still classified; the exit code is then
    2. The table lists the classified files; JSON and CSV also carry each failed file with
    its error, so a program reading them accounts for every input.
    """
    from sernet_edge.errors import SernetError
    from sernet_edge.runtime import EmotionClassifier

    files = expand_inputs(inputs)
    if hop <= 0:
        raise SernetError(f"--hop must be positive, got {hop}")
    clf = EmotionClassifier(model, num_threads=threads, hop_seconds=hop)
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
    text = {"table": _table, "json": _json, "csv": _csv}[fmt](results, clf.labels, windows)
    if output:
        from sernet_edge.io import write_text
        write_text(output, text)
    else:
        click.echo(text, nl=False)
    if failures:
        sys.exit(2)


def expand_inputs(inputs) -> list[str]:
    """Files as given; folders searched recursively for audio; globs expanded. Order kept."""
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
    return files


def _table(results, labels, windows) -> str:
    if all(r is None for _, r, _ in results):
        return ""   # nothing classified: the error lines are the whole report
    width = max([len(Path(p).name) for p, r, _ in results if r is not None] + [4])
    lines = [f"{'file':<{width}}  {'emotion':<10} {'conf':>5}  {'secs':>6}  top-3"]
    for path, r, err in results:
        name = Path(path).name
        if err:
            continue   # already reported on standard error, once
        top3 = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[:3]
        lines.append(f"{name:<{width}}  {r.label:<10} {r.confidence:5.2f}  {r.duration:6.2f}  "
                     + "  ".join(f"{k} {v:.2f}" for k, v in top3))
        if windows and len(r.windows) > 1:
            for w in r.windows:
                lines.append(f"{'':<{width}}    {w.start:6.2f}-{w.end:6.2f} s  {w.label:<10} "
                             f"{w.confidence:5.2f}")
    return "\n".join(lines) + "\n"


def _json(results, labels, windows) -> str:
    out = []
    for path, r, err in results:
        out.append({"file": str(path), "error": err} if err else {"file": str(path), **r.to_dict()})
    return json.dumps(out, indent=2) + "\n"


def _csv(results, labels, windows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "start", "end", "label", "confidence", *[f"p_{lab}" for lab in labels], "error"])
    for path, r, err in results:
        if err:
            w.writerow([path, "", "", "", "", *[""] * len(labels), err])
            continue
        w.writerow([path, 0.0, r.duration, r.label, f"{r.confidence:.6f}",
                    *[f"{r.probabilities[lab]:.6f}" for lab in labels], ""])
        if windows:
            for win in r.windows:
                w.writerow([path, win.start, win.end, win.label, f"{win.confidence:.6f}",
                            *[f"{win.probabilities[lab]:.6f}" for lab in labels], ""])
    return buf.getvalue()

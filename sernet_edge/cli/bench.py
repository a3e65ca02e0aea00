"""`sernet-edge bench`: what a .tflite model costs, counted from the file and measured here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_THREADS = "1,2"
DEFAULT_SECONDS = "3,7"


def _threads(ctx, param, value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        counts = ()
    if not counts or any(n < 1 for n in counts):
        raise click.BadParameter(f"expected positive integers separated by commas, got {value!r}")
    return counts


def _seconds(ctx, param, value: str) -> tuple[float, ...]:
    try:
        lengths = tuple(float(x) for x in value.split(",") if x.strip())
    except ValueError:
        lengths = ()
    if not lengths or not all(0 < s <= 600 for s in lengths):
        raise click.BadParameter(f"expected lengths in seconds (0 < s <= 600) separated by "
                                 f"commas, got {value!r}")
    return tuple(dict.fromkeys(lengths))


@click.command()
@click.argument("models", nargs=-1, metavar="[MODEL.tflite|NAME...]", type=click.Path(path_type=Path))
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, callback=_threads, metavar="N[,N...]",
              help="Interpreter thread counts to time, separated by commas.")
@click.option("--seconds", default=DEFAULT_SECONDS, show_default=True, callback=_seconds,
              metavar="S[,S...]", help="Window lengths to count and time each model at: the "
                                       "network is fully convolutional, so its input is resized.")
@click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Timed runs per measurement (median, p90 and min are taken over them), in 5 "
                   "rounds that take turns with the other measurements.")
@click.option("--warmup", type=click.IntRange(min=0), default=20, show_default=True,
              help="Untimed runs before each measurement.")
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="Clip for the end-to-end timing (default: a synthetic clip as long as the "
                   "model's input window).")
@click.option("--json", "json_out", metavar="FILE|-", default=None,
              help="Also write every figure, per-operator tables and machine details as JSON to "
                   "FILE; '-' writes the JSON to standard output instead of the table.")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.png",
              default=None, help="Write a PNG chart of compute, latency and memory per model.")
@click.option("--per-op", is_flag=True,
              help="Also print each model's per-operator table (op, output shape, MACs, FLOPs, "
                   "live activation memory).")
@click.option("--no-timing", is_flag=True,
              help="Only the figures counted from the file: skip the latency and process-memory "
                   "measurements.")
@click.option("--no-micro", is_flag=True,
              help="Skip the TFLite Micro arena measurement of integer-only models.")
def bench(models, threads, seconds, runs, warmup, audio, json_out, chart, per_op, no_timing, no_micro):
    """Benchmark .tflite models without TensorFlow (default: the bundled multi model in full
    int8 and float16; bundled models can be named: emodb, multi-float16, ...).

    \b
    From the graph: parameters, file size, MACs, MFLOPs (2 per MAC plus bias, activation
    and pooling work) and peak live activation memory in execution order.
    Measured here: MFCC front end, invoke and end-to-end latency (median / p90 / min ms) per
    thread count, real-time factor, peak resident memory of a classify process, and the
    TFLite Micro arena for integer-only models. Every figure is given per window length.
    The machine (CPU, cores, Python, numpy, LiteRT, date, load) is recorded with the results.
    """
    from sernet_edge.bench import report
    from sernet_edge.bench.timing import benchmark
    from sernet_edge.errors import AudioError
    from sernet_edge.io import write_text

    from sernet_edge.runtime import resolve_model

    # default: both precisions of the default model; bundled short names work like paths
    models = tuple(m if m.exists() else resolve_model(m) for m in models) or (
        resolve_model("multi"), resolve_model("multi-float16"))
    if audio is not None and not audio.is_file():
        raise AudioError(f"{audio}: no such audio file")
    if chart:
        from sernet_edge.extras import require
        require("matplotlib", "bench --chart")       # before the minutes of timing
    progress = (lambda msg: click.echo(f"... {msg}", err=True)) if sys.stderr.isatty() else None
    results = benchmark(models, threads=threads, runs=runs, warmup=warmup, audio=audio,
                        timing=not no_timing, micro=not no_micro, progress=progress, seconds=seconds)
    if json_out == "-":
        click.echo(report.json_report(results), nl=False)
    else:
        click.echo(report.text_report(results, per_op=per_op), nl=False)
        if json_out:
            write_text(json_out, report.json_report(results))
    if chart:
        report.write_chart(results, chart)

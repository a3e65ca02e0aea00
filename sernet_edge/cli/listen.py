"""`sernet-edge listen`: live emotion classification from a microphone (or a replayed file)."""

from __future__ import annotations

import contextlib
import signal
import sys

import click

from sernet_edge.cli.options import MODEL_HELP
from sernet_edge.stream.pipeline import DEFAULT_MIN_SPEECH_SECONDS
from sernet_edge.vad import DEFAULT_ENERGY_DB, VAD_CHOICES


@click.command()
@click.option("-m", "--model", type=click.Path(path_type=str), default=None,
              help=MODEL_HELP)
@click.option("-d", "--device", default=None, metavar="INDEX|NAME",
              help="Input device: its index or part of its name (default: the system's default "
                   "input). See --list-devices.")
@click.option("--list-devices", is_flag=True,
              help="List the audio input devices ('*' marks the default) and exit.")
@click.option("--file", "path", type=click.Path(path_type=str), default=None,
              help="Replay this recording through the pipeline instead of the microphone.")
@click.option("--realtime/--fast", default=True, show_default=True,
              help="With --file: replay at the recording's speed, or as fast as possible.")
@click.option("--hop", type=float, default=0.5, show_default=True,
              help="Seconds between decisions; each classifies the newest model window.")
@click.option("--smooth", type=click.IntRange(min=1), default=3, show_default=True,
              help="Average the probabilities of the last N windows (silence restarts it).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Below this smoothed confidence the answer is 'uncertain'.")
@click.option("--min-speech", type=click.FloatRange(min=0.0), default=DEFAULT_MIN_SPEECH_SECONDS,
              show_default=True, metavar="SECONDS",
              help="Speech to hear (since the last silent hop) before the first answer; until "
                   "then a hop says 'listening'. Shorter stretches of speech are mostly "
                   "misread (docs/results.md).")
@click.option("--vad", type=click.Choice(VAD_CHOICES), default="auto", show_default=True,
              help="Voice-activity gate: energy (the level, over --energy-db and 6 dB over the "
                   "room's steady noise of the last 5 s), webrtc (also WebRTC VAD), off; auto = "
                   "energy. Gated hops are reported as 'silence' without inference.")
@click.option("--energy-db", type=float, default=DEFAULT_ENERGY_DB, show_default=True,
              help="Energy floor of the gate: RMS level of the newest hop in dBFS.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per hop (timestamp, wall_time, label, confidence, "
                   "probabilities, level_dbfs, gated, overflows); the summary goes to stderr.")
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="Stop after this many seconds of audio (default: until Ctrl-C or the end "
                   "of --file).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Interpreter threads (default: LiteRT's).")
def listen(model, device, list_devices, path, realtime, hop, smooth, threshold, min_speech, vad,
           energy_db, as_json, duration, threads):
    """Classify the emotion of live speech, every --hop seconds.

    Audio from the microphone (PortAudio, any sample rate, downmixed and resampled) or from
    --file fills a ring buffer of one model window. Each hop is gated for voice activity,
    classified, and smoothed over the last --smooth windows. On a terminal a panel shows every
    class's probability and the input level; otherwise one line per hop, or JSON lines with
    --json. Ctrl-C (or SIGTERM) stops and prints a summary: duration, hops, counts per label,
    input overflows (audio dropped because classification fell behind).
    """
    from sernet_edge.errors import SernetError
    from sernet_edge.stream import sources

    if list_devices:
        click.echo(sources.describe_devices(sources.import_sounddevice()), nl=False)
        return
    if path is not None and device is not None:
        raise SernetError("--device and --file exclude each other")
    if hop <= 0:
        raise SernetError(f"--hop must be positive, got {hop:g}")
    if duration is not None and duration < hop:
        raise SernetError(f"--duration must be at least one hop ({hop:g} s), got {duration:g}")

    from sernet_edge.runtime import EmotionClassifier
    from sernet_edge.stream.pipeline import Pipeline, run
    from sernet_edge.vad import make_gate
    from sernet_edge.stream.view import make_view, summary_text

    clf = EmotionClassifier(model, num_threads=threads)
    rate = clf.features.sample_rate
    try:
        pipeline = Pipeline(clf, hop, smooth, threshold, make_gate(vad, rate, energy_db, track_noise=True),
                            min_speech=min_speech)
    except ValueError as e:
        raise SernetError(str(e)) from None
    if path is not None:
        source = sources.file_source(path, rate, realtime=realtime)
    else:
        source = sources.MicrophoneSource(device, rate)
    out = sys.stdout
    view = make_view(out, clf.labels, as_json, out.isatty(), source.name)
    with sigterm_as_interrupt():
        summary = run(source, pipeline, view.show, duration)
    view.finish()
    click.echo(summary_text(summary), nl=False, err=as_json)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """systemd stops a service with SIGTERM: end like Ctrl-C, with the summary."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

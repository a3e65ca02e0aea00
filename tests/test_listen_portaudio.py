"""One test through a REAL PortAudio input stream (no fake sounddevice).

A PulseAudio server with a null sink (started by .ci/audio-server.sh) stands in for a sound
card: a clip is played into the sink with `paplay` while PortAudio records the sink's monitor
through ALSA's "pulse" device. Skips, saying why, when no audio server is reachable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sernet_edge.runtime import EmotionClassifier, bundled_clips
from sernet_edge.stream import sources
from sernet_edge.stream.pipeline import Pipeline, run
from sernet_edge.vad import EnergyGate

SOCKET = Path(os.environ.get("SERNET_PULSE_DIR", "/tmp/sernet-edge-pulse")) / "native"
SINK = "sernet_null"
SETUP = "run `bash .ci/audio-server.sh` first"
SECONDS = 6.0
HOP = 0.5
CLIP = "13a05Tc.wav"          # 4.45 s, the longest bundled clip


def pulse_env() -> dict:
    """Environment that points PulseAudio clients at the null sink, or skip with the reason."""
    for tool in ("pactl", "paplay"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (pulseaudio-utils): {SETUP}")
    server = os.environ.get("PULSE_SERVER") or (f"unix:{SOCKET}" if SOCKET.exists() else None)
    env = dict(os.environ)
    if server:
        env["PULSE_SERVER"] = server
    try:
        sinks = subprocess.run(["pactl", "list", "short", "sinks"], env=env, capture_output=True,
                               text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.skip(f"PulseAudio server at {server or 'default'} does not answer: {SETUP}")
    if sinks.returncode != 0:
        pytest.skip(f"no PulseAudio server reachable at {server or 'default'}: {SETUP}")
    if SINK not in sinks.stdout:
        pytest.skip(f"PulseAudio has no {SINK} sink: {SETUP}")
    # libpulse clients (ALSA's pulse plugin included) take their defaults from these
    env.update(PULSE_SINK=SINK, PULSE_SOURCE=f"{SINK}.monitor")
    return env


def real_sounddevice(monkeypatch, env):
    for key in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE"):
        if key in env:
            monkeypatch.setenv(key, env[key])
    try:
        pytest.importorskip("sounddevice", reason="the [mic] extra (sounddevice) is not installed")
        import sounddevice as sd
    except OSError as e:
        pytest.skip(f"PortAudio library missing ({e}): apt install libportaudio2")
    # PortAudio lists devices once, at import: list them again now that pulse is reachable
    sd._terminate()
    sd._initialize()
    return sd


def test_real_portaudio_stream_classifies_played_speech(monkeypatch, tmp_path_factory):
    try:  # the shared model builder (tests/ is on sys.path, or a package)
        from test_stream import build_test_model
    except ImportError:
        from tests.test_stream import build_test_model

    env = pulse_env()
    sd = real_sounddevice(monkeypatch, env)
    names = [d["name"] for d in sources.input_devices(sd)]
    if "pulse" not in names:
        pytest.skip(f"PortAudio sees no ALSA 'pulse' device (libasound2-plugins missing?): "
                    f"inputs {names}")

    clf = EmotionClassifier(build_test_model(tmp_path_factory.getbasetemp()), num_threads=1)
    source = sources.MicrophoneSource("pulse", clf.features.sample_rate, sd=sd)
    levels = []
    pipeline = Pipeline(clf, HOP, smooth=3, threshold=0.0, gate=EnergyGate(-45.0), min_speech=0.0)
    source.open()
    clip = next(p for p in bundled_clips() if p.name == CLIP)
    player = subprocess.Popen(["paplay", str(clip)], env=env, stderr=subprocess.PIPE)
    try:
        events = []
        summary = run(source, pipeline, lambda e: (events.append(e), levels.append(e.level_dbfs)),
                      duration=SECONDS)
    finally:
        player.wait(timeout=30)
    assert player.returncode == 0, player.stderr.read()

    assert source.native_rate == int(sd.query_devices("pulse")["default_samplerate"])
    assert source.frames_received >= SECONDS * source.native_rate * 0.9
    assert summary.hops == len(events) == int(SECONDS / HOP) and summary.stopped == "duration"
    assert [e.timestamp for e in events] == [HOP * (k + 1) for k in range(len(events))]
    # the played speech came back through PortAudio: loud hops, classified
    assert max(levels) > -35.0
    classified = [e for e in events if not e.gated]
    assert len(classified) >= 4
    for e in classified:
        assert list(e.probabilities) == clf.labels
        assert np.isclose(sum(e.probabilities.values()), 1.0, atol=1e-4)
        assert e.label in clf.labels

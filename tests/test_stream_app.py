"""`export-c --app`: the streaming app's C loop, gate and front end, built on the host and run
hop by hop against listen's pipeline (benchmarks/stream_app.py). Invoke() runs under TFLite
Micro's host package (the `[micro]` extra); the reference uses LiteRT's builtin kernels, the
integer arithmetic TFLite Micro shares (listen's default XNNPACK delegate rounds differently)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import sernet_edge  # noqa: F401  (the installed package first)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CC = shutil.which("cc") or shutil.which("gcc")
APP_FILES = ("sernet_app.h", "sernet_app.c", "sernet_gate.h", "sernet_gate.c", "sernet_app_tflm.h",
             "sernet_app_tflm.cc", "app_main.c")


def test_export_c_app_writes_the_loop_with_listens_settings(tmp_path):
    from sernet_edge.cli import main
    r = CliRunner().invoke(main, ["export-c", "multi-xs-micro", "--app", "--hop", "1", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in APP_FILES:
        assert (tmp_path / name).is_file(), name
    h = (tmp_path / "sernet_app.h").read_text()
    assert "#define SERNET_APP_HOP_SAMPLES 16000" in h
    assert "#define SERNET_APP_SMOOTH 3" in h and "#define SERNET_APP_MIN_SPEECH_SAMPLES 24000" in h
    assert "light_sernet_multi_xs_3s_int8_micro_model_data" in (tmp_path / "sernet_app_tflm.cc").read_text()


def test_app_settings_go_with_app_only(tmp_path):
    from sernet_edge.cli import main
    r = CliRunner().invoke(main, ["export-c", "multi-xs-micro", "--hop", "1", "-o", str(tmp_path)])
    assert r.exit_code != 0 and "--app" in r.output
    r = CliRunner().invoke(main, ["export-c", "multi-xs-micro", "--app", "--hop", "4", "-o", str(tmp_path)])
    assert r.exit_code != 0 and "hop" in r.output


needs_host_build = pytest.mark.skipif(
    CC is None or importlib.util.find_spec("tflite_micro") is None,
    reason="needs a C compiler and tflite_micro (the [micro] extra)")


@needs_host_build
def test_every_hop_equals_listens_on_a_clip_and_a_noisy_stream(tmp_path):
    import soundfile as sf

    from benchmarks import stream_app
    from sernet_edge.card import read_card
    from sernet_edge.export_c import app_settings
    from sernet_edge.runtime import bundled_clips, resolve_model

    path = resolve_model("multi-xs-micro")
    card = read_card(path)
    settings = app_settings()
    app = stream_app.HostApp(stream_app.build("multi-xs-micro", tmp_path, settings), path.read_bytes(),
                             card["labels"])
    clips = bundled_clips()[2:4]
    stream = stream_app.noisy_stream(clips, 16000)
    sf.write(tmp_path / "noisy.wav", stream, 16000, subtype="PCM_16")
    for samples, wav in [(sf.read(clips[0], dtype="int16")[0], clips[0]), (stream, tmp_path / "noisy.wav")]:
        got = app.run(samples)
        ref = stream_app.listen_events_builtin("multi-xs-micro", wav, settings)
        c = stream_app.compare(got, ref, float(card["output"]["scale"]))
        assert c["equal"], c
        assert c["hops_with_inference"] > 0
        assert [e["label"] for e in got] == [e["label"] for e in ref]


def _gate_library(tmp_path):
    """export-c's sernet_gate.c built for the host and loaded, its level function typed."""
    import ctypes
    import subprocess

    from sernet_edge.export_c import export_c
    export_c("multi-xs-micro", tmp_path, {"hop": 0.5, "smooth": 3, "threshold": 0.5, "min_speech": 1.5,
                                          "energy_db": -45.0})
    lib = tmp_path / "libgate.so"
    subprocess.run([CC, "-std=c99", "-O2", "-fPIC", "-shared", str(tmp_path / "sernet_gate.c"), "-lm",
                    "-o", str(lib)], check=True)
    g = ctypes.CDLL(str(lib))
    g.sernet_gate_level_db.restype = ctypes.c_double
    g.sernet_gate_level_db.argtypes = [ctypes.POINTER(ctypes.c_int16), ctypes.c_long]
    return g


@needs_host_build
def test_the_gate_twin_decides_as_the_energy_gate(tmp_path):
    """sernet_gate.c against vad.EnergyGate with level_dbfs, on hops around the floor."""
    import ctypes

    from sernet_edge.vad import EnergyGate, level_dbfs
    g = _gate_library(tmp_path)
    rng = np.random.default_rng(0)
    gate = EnergyGate(-45.0)
    for db in np.linspace(-60, -30, 61):
        x = rng.standard_normal(8000)
        s = np.round(np.clip(x / np.sqrt(np.mean(x ** 2)) * 10 ** (db / 20), -1, 32767 / 32768) * 32768).astype(np.int16)
        f = s.astype(np.float32) / 32768
        level = g.sernet_gate_level_db(s.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(s))
        assert abs(level - level_dbfs(f)) < 1e-9
        assert (level >= -45.0) == gate.is_speech(f, level_dbfs(f))
    z = np.zeros(100, np.int16)
    assert g.sernet_gate_level_db(z.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), 100) == -120.0


@needs_host_build
def test_the_gate_twin_follows_the_noise_floor_as_listen_does(tmp_path):
    """sernet_gate.c's noise floor against vad.EnergyGate(track_noise): hop after hop of a
    stream with steady noise, speech bursts and a louder noise later, every decision and
    threshold equal."""
    import ctypes

    from sernet_edge.noise import coloured_noise
    from sernet_edge.vad import EnergyGate, level_dbfs
    g = _gate_library(tmp_path)
    g.sernet_gate_threshold_db.restype = ctypes.c_double
    g.sernet_gate_is_speech.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                        ctypes.c_long, ctypes.c_double]
    g.sernet_gate_init.argtypes = [ctypes.c_void_p, ctypes.c_double]
    g.sernet_gate_threshold_db.argtypes = [ctypes.c_void_p]
    state = ctypes.create_string_buffer(4096)        # larger than sernet_gate
    g.sernet_gate_init(state, -45.0)
    rng = np.random.default_rng(3)
    rate = 16000
    parts = [coloured_noise("pink", 3 * rate, rng) * 10 ** (-38 / 20)]
    for k in range(3):                               # bursts 12-20 dB over the noise, then noise
        burst = coloured_noise("white", rate, rng) * 10 ** ((-26 + 4 * k) / 20)
        parts += [burst + coloured_noise("pink", rate, rng) * 10 ** (-38 / 20),
                  coloured_noise("pink", 2 * rate, rng) * 10 ** (-38 / 20)]
    parts.append(coloured_noise("brown", 4 * rate, rng) * 10 ** (-30 / 20))
    s = np.round(np.clip(np.concatenate(parts), -1, 32767 / 32768) * 32768).astype(np.int16)
    gate = EnergyGate(-45.0, rate)
    decisions = []
    for hop_n in (8000, 4000):                       # 0.5 s hops, and 0.25 s: frames span hops
        g.sernet_gate_init(state, -45.0)
        gate = EnergyGate(-45.0, rate)
        for i in range(0, len(s) - hop_n + 1, hop_n):
            h = np.ascontiguousarray(s[i:i + hop_n])
            f = h.astype(np.float32) / 32768
            level = g.sernet_gate_level_db(h.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), hop_n)
            c = g.sernet_gate_is_speech(state, h.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                        hop_n, level)
            py = gate.is_speech(f, level_dbfs(f))
            assert bool(c) == py, i
            assert g.sernet_gate_threshold_db(state) == pytest.approx(gate.threshold(), abs=1e-9)
            decisions.append(py)
    assert any(decisions) and not all(decisions)     # both kinds of hop were decided

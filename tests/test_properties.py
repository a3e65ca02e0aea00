"""Property tests: any array or byte string gives finite features or a clean AudioError."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sernet_edge.audio import load_audio, to_mono_16k
from sernet_edge.errors import AudioError
from sernet_edge.features import FeatureConfig, extract, mfcc

SHORT = FeatureConfig(seconds=0.25)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

samples = arrays(np.float32, st.integers(0, 6000),
                 elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


@pytest.mark.filterwarnings("error::RuntimeWarning")   # no overflow or invalid-value warnings
@FAST
@given(samples, st.sampled_from([8000, 16000, 22050, 44100, 192000]))
def test_any_array_gives_finite_features_or_audio_error(x, rate):
    try:
        y = to_mono_16k(x, rate)
    except AudioError as e:
        assert "NaN" in str(e) or "zero-length" in str(e)
        # finite samples far beyond full scale can overflow the resampler: refused after it
        assert x.size == 0 or not np.all(np.isfinite(x)) or (
            "after resampling" in str(e) and rate != 16000 and np.max(np.abs(x)) > 1.0)
        return
    assert y.dtype == np.float32 and np.all(np.abs(y) <= 1.0)
    f = extract(y, SHORT)
    assert f.shape == SHORT.input_shape[:2]
    assert np.all(np.isfinite(f)) and np.all(np.abs(f) <= 10.0)


@FAST
@given(arrays(np.float64, st.integers(1, 5000),
              elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_mfcc_of_any_finite_signal_is_finite(x):
    f = mfcc(x, SHORT)
    assert np.all(np.isfinite(f))


@FAST
@given(st.binary(max_size=2048))
def test_any_bytes_give_audio_or_audio_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "x.wav"
    path.write_bytes(data)
    try:
        x = load_audio(path)
    except AudioError as e:
        assert str(path) in str(e) and "\n" not in str(e)
        return
    assert np.all(np.isfinite(extract(x, SHORT)))


def _wav_bytes(x, rate, subtype):
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


@FAST
@given(st.binary(min_size=1, max_size=64), st.integers(0, 400))
def test_damaged_real_wav_gives_audio_or_audio_error(tmp_path_factory, junk, cut):
    """A real WAV, truncated and with junk spliced in: never anything but AudioError."""
    good = _wav_bytes(np.sin(np.arange(800) / 5.0) * 0.5, 16000, "PCM_16")
    data = good[:max(0, len(good) - cut)]
    at = len(data) // 3
    data = data[:at] + junk + data[at + len(junk):]
    path = tmp_path_factory.mktemp("dmg") / "x.wav"
    path.write_bytes(data)
    try:
        x = load_audio(path)
    except AudioError:
        return
    assert np.all(np.isfinite(extract(x, SHORT)))


def test_fuzz_harness_short_run(tmp_path):
    """The atheris harness runs (a short CI run; see fuzz/fuzz_audio.py for a long one)."""
    pytest.importorskip("atheris", reason="atheris has no wheel for this platform")
    harness = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_audio.py"
    out = subprocess.run([sys.executable, str(harness), "-runs=300", "-seed=1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Done 300 runs" in out.stderr

"""The audio reader on every format, bit depth, rate and channel count it meets in practice,
its refusals of broken files, and the paper's per-utterance preprocessing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from sernet_edge.audio import (SAMPLE_RATE, audio_info, fit_length, load_audio, normalise,
                               preprocess, stream_audio, to_mono_16k)
from sernet_edge.errors import AudioError, SernetError

TONE_HZ = 1000.0
SECONDS = 0.5
AMPLITUDE = 0.5

# (format, subtype, extension, max abs error of a decoded 0.5-amplitude sine)
FORMATS = [
    ("WAV", "PCM_U8", "wav", 1e-2),
    ("WAV", "PCM_16", "wav", 1e-4),
    ("WAV", "PCM_24", "wav", 1e-6),
    ("WAV", "PCM_32", "wav", 1e-6),
    ("WAV", "FLOAT", "wav", 1e-6),
    ("WAV", "DOUBLE", "wav", 1e-6),
    ("FLAC", "PCM_16", "flac", 1e-4),
    ("FLAC", "PCM_24", "flac", 1e-6),
    ("OGG", "VORBIS", "ogg", 0.1),    # lossy
    ("AIFF", "PCM_16", "aiff", 1e-4),
    ("AIFF", "PCM_24", "aiff", 1e-6),
]
RATES = [8000, 22050, 44100, 48000, 96000]


def sine(rate: int, seconds: float = SECONDS, hz: float = TONE_HZ, amplitude: float = AMPLITUDE):
    t = np.arange(int(round(rate * seconds))) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def write(path, data, rate=SAMPLE_RATE, fmt="WAV", subtype="PCM_16"):
    sf.write(str(path), data, rate, format=fmt, subtype=subtype)
    return path


def check_error(path, *needles):
    with pytest.raises(AudioError) as err:
        load_audio(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    for needle in needles:
        assert needle in message
    return message


# ---- every format and bit depth ----

@pytest.mark.parametrize("fmt,subtype,ext,tol", FORMATS, ids=[f"{f[0]}-{f[1]}" for f in FORMATS])
def test_formats_decode_to_mono_float32_16k(tmp_path, fmt, subtype, ext, tol):
    x = sine(SAMPLE_RATE)
    path = write(tmp_path / f"tone.{ext}", x, fmt=fmt, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == len(x)
    assert np.all(np.abs(y) <= 1.0)
    assert np.max(np.abs(y - x)) < tol
    assert peak_hz(y) == pytest.approx(TONE_HZ, abs=2.0)


@pytest.mark.parametrize("rate", RATES)
def test_resampling_keeps_length_and_frequency(tmp_path, rate):
    path = write(tmp_path / f"tone{rate}.wav", sine(rate), rate=rate)
    y = load_audio(path)
    assert y.dtype == np.float32
    assert abs(len(y) - SECONDS * SAMPLE_RATE) <= 2
    assert np.all(np.abs(y) <= 1.0)
    assert peak_hz(y) == pytest.approx(TONE_HZ, abs=2.0)   # 2 Hz = one FFT bin of 0.5 s
    # away from the edges the resampled tone is the tone itself
    middle = slice(400, len(y) - 400)
    assert np.max(np.abs(y[middle] - sine(SAMPLE_RATE)[: len(y)][middle])) < 2e-3


def test_sixteen_khz_file_is_not_resampled(tmp_path):
    ints = np.round(sine(SAMPLE_RATE) * 32767).astype(np.int16)
    y = load_audio(write(tmp_path / "a.wav", ints))
    np.testing.assert_array_equal(y, ints / np.float32(32768))   # libsndfile reads int16 / 2**15


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channels_are_averaged(tmp_path, channels):
    gains = np.linspace(1.0, 0.25, channels)
    x = sine(SAMPLE_RATE)[:, None] * gains[None, :]
    y = load_audio(write(tmp_path / f"c{channels}.wav", x, subtype="FLOAT"))
    assert y.shape == (len(x),)
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-6)


def test_six_channels_at_48k(tmp_path):
    x = np.repeat(sine(48000)[:, None], 6, axis=1)
    y = load_audio(write(tmp_path / "surround.flac", x, rate=48000, fmt="FLAC", subtype="PCM_24"))
    assert abs(len(y) - SECONDS * SAMPLE_RATE) <= 2
    assert peak_hz(y) == pytest.approx(TONE_HZ, abs=2.0)


def test_out_of_range_float_samples_are_clipped(tmp_path):
    x = np.array([0.0, 1.5, -3.0, 0.25] * 100)
    y = load_audio(write(tmp_path / "loud.wav", x, subtype="FLOAT"))
    np.testing.assert_array_equal(y[:4], np.float32([0.0, 1.0, -1.0, 0.25]))


def test_audio_info_reads_the_header(tmp_path):
    path = write(tmp_path / "s.wav", np.zeros((441, 2)), rate=44100)
    assert audio_info(path) == (441, 44100, 2)


def test_streaming_size_placeholder_is_not_truncation(tmp_path):
    """Recorders writing to a pipe put 0xFFFFFFFF in the data size; such files are whole."""
    path = write(tmp_path / "piped.wav", sine(SAMPLE_RATE))
    data = bytearray(path.read_bytes())
    assert data[36:40] == b"data"
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    assert len(load_audio(path)) == len(sine(SAMPLE_RATE))


# ---- broken input: one AudioError naming the file ----

def test_missing_file(tmp_path):
    check_error(tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    check_error(tmp_path / "dir.wav", "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    check_error(path, "empty file")


def test_text_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not audio\n" * 20)
    check_error(path, "not a readable audio file")


def test_header_only(tmp_path):
    whole = write(tmp_path / "whole.wav", sine(SAMPLE_RATE)).read_bytes()
    path = tmp_path / "header.wav"
    path.write_bytes(whole[:44])
    check_error(path)


def test_header_cut_short(tmp_path):
    whole = write(tmp_path / "whole.wav", sine(SAMPLE_RATE)).read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[:30])
    check_error(path, "not a readable audio file")


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", "wav"), ("WAV", "FLOAT", "wav"),
                                             ("AIFF", "PCM_16", "aiff"), ("FLAC", "PCM_16", "flac"),
                                             ("OGG", "VORBIS", "ogg")])
def test_cut_in_half(tmp_path, fmt, subtype, ext):
    whole = write(tmp_path / f"whole.{ext}", sine(SAMPLE_RATE, seconds=1.0), fmt=fmt,
                  subtype=subtype).read_bytes()
    path = tmp_path / f"half.{ext}"
    path.write_bytes(whole[: len(whole) // 2])
    check_error(path)


def test_truncated_wav_refused_by_audio_info_and_stream(tmp_path):
    whole = write(tmp_path / "whole.wav", sine(SAMPLE_RATE)).read_bytes()
    path = tmp_path / "half.wav"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AudioError, match="truncated"):
        audio_info(path)
    with pytest.raises(AudioError, match="truncated"):
        list(stream_audio(path))


def test_zero_frames(tmp_path):
    path = write(tmp_path / "silent.wav", np.zeros(0))
    assert path.stat().st_size > 0
    check_error(path, "no audio samples")


def test_all_nan(tmp_path):
    path = write(tmp_path / "nan.wav", np.full(1000, np.nan), subtype="FLOAT")
    check_error(path, "NaN")


def test_audio_error_is_a_user_error():
    assert issubclass(AudioError, SernetError) and AudioError.exit_code == 2


def test_to_mono_16k_checks_arrays():
    np.testing.assert_allclose(to_mono_16k(np.array([32767, -32767, 0], np.int16), SAMPLE_RATE),
                               [1.0, -1.0, 0.0])
    for bad, rate in [(np.zeros((2, 2, 2)), SAMPLE_RATE), (np.zeros(0), SAMPLE_RATE),
                      (np.array([0.0, np.inf]), SAMPLE_RATE), (np.zeros(10), 0)]:
        with pytest.raises(AudioError, match="clip.wav"):
            to_mono_16k(bad, rate, name="clip.wav")


# ---- the paper's preprocessing ----

@pytest.mark.parametrize("n,length,start", [(10, 4, 3), (10, 5, 2), (11, 4, 3), (9, 9, 0)])
def test_fit_length_centre_crop(n, length, start):
    x = np.arange(n, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(x, length), x[start:start + length])


@pytest.mark.parametrize("n,length,left", [(3, 8, 2), (3, 6, 1), (4, 9, 2), (1, 2, 0)])
def test_fit_length_centre_pad(n, length, left):
    x = np.arange(1, n + 1, dtype=np.float32)
    y = fit_length(x, length)
    expected = np.zeros(length, np.float32)
    expected[left:left + n] = x
    np.testing.assert_array_equal(y, expected)


def test_normalise_by_99_9th_percentile():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10000).astype(np.float32)
    peak = np.percentile(np.abs(x), 99.9)
    y = normalise(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.clip(x / peak, -1, 1), rtol=1e-6)
    # the samples above the percentile, and only those, are clipped to +-1
    assert np.count_nonzero(np.abs(y) == 1.0) == np.count_nonzero(np.abs(x) >= peak)
    assert np.count_nonzero(np.abs(x) >= peak) == 10


def test_normalise_silence_stays_zero():
    for x in (np.zeros(100, np.float32), np.zeros(0, np.float32)):
        y = normalise(x)
        assert y.dtype == np.float32 and len(y) == len(x) and not y.any()


def test_normalise_ignores_one_click():
    x = np.full(10000, 0.1, np.float32)
    x[5000] = 1.0   # one sample in 10000 is above the 99.9th percentile
    y = normalise(x)
    assert y[0] == pytest.approx(1.0) and y[5000] == 1.0


def test_preprocess_is_fit_then_normalise():
    x = np.linspace(-0.2, 0.2, 70000).astype(np.float32)
    y = preprocess(x, 3.0)
    assert len(y) == 48000
    np.testing.assert_array_equal(y, normalise(fit_length(x, 48000)))


def test_16_bit_files_read_as_libsndfile_scales_them(tmp_path):
    """load_audio reads 16-bit PCM as int16 and scales it itself: bit for bit libsndfile's
    float32, full scale and the most negative sample included."""
    import soundfile as sf
    from sernet_edge.audio import load_audio
    from sernet_edge.runtime import bundled_clips
    extremes = np.array([-32768, -32767, -1, 0, 1, 32767] * 100, np.int16)
    path = tmp_path / "extremes.wav"
    sf.write(str(path), extremes, 16000, subtype="PCM_16")
    for clip in [path, *bundled_clips()]:
        want = np.clip(sf.read(str(clip), dtype="float32", always_2d=True)[0][:, 0], -1.0, 1.0)
        np.testing.assert_array_equal(load_audio(clip), want)

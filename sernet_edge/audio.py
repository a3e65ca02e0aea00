"""Read audio into 16 kHz mono float32, and the paper's per-utterance preprocessing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from sernet_edge.errors import AudioError

SAMPLE_RATE = 16000
NORM_PERCENTILE = 99.9
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3")
# libsndfile logs "data : 32000 (should be 15978)" for a WAV/AIFF cut short, then reads what is left
SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
STREAMED_SIZE = 0x7FF00000   # sizes from here up are placeholders written by streaming recorders
NOT_FINITE = "signal contains NaN or infinite samples"


def _soundfile():
    try:
        import soundfile
    except OSError as e:  # libsndfile missing from a stripped-down system
        raise AudioError(f"cannot load libsndfile: {e}") from None
    return soundfile


def _open(path):
    """An open SoundFile for `path`, or AudioError naming the file and the problem."""
    path = _check_path(path)
    sf = _soundfile()
    try:
        f = sf.SoundFile(str(path))
    except Exception as e:
        raise AudioError(f"{path}: not a readable audio file ({_reason(e)})") from None
    try:
        _check_complete(path, f.extra_info)
    except AudioError:
        f.close()
        raise
    return path, f


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """(frames, sample_rate, channels) from the header, without decoding the samples."""
    path, f = _open(path)
    with f:
        return f.frames, f.samplerate, f.channels


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any libsndfile format to mono float32 in [-1, 1] at `sample_rate`."""
    path, f = _open(path)
    with f:
        try:
            data, rate = _read_float32(f), f.samplerate
        except Exception as e:
            raise AudioError(f"{path}: damaged audio data ({_reason(e)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: no audio samples (zero-length file)")
    return to_mono_16k(data, rate, name=str(path), sample_rate=sample_rate)


def _read_float32(f) -> np.ndarray:
    """All frames as float32 (frames, channels), as libsndfile scales them. 16-bit PCM is read
    as int16 and scaled here by 1/32768, libsndfile's own factor (exact in float32, so the same
    numbers): twice as fast, which is most of a 3 s clip's end-to-end time beyond MFCC + invoke."""
    if f.subtype == "PCM_16":
        data = f.read(dtype="int16", always_2d=True).astype(np.float32)
        data *= np.float32(1 / 32768)
        return data
    return f.read(dtype="float32", always_2d=True)


def stream_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE,
                 block_seconds: float = 10.0):
    """Yield mono float32 chunks at `sample_rate`, decoding `block_seconds` at a time, so an
    hour-long file is processed in bounded memory. Same checks as `load_audio`.

    Blocks come from `SoundFile.read`, which returns only the frames the decoder delivered.
    `SoundFile.blocks` does not: it sizes its blocks from the header's frame count and yields
    them whole, so when a file holds fewer frames than its header says (MP3 without a
    Xing/LAME length, or cut short: libsndfile estimates the length) the last block ends in
    never-written `np.empty` memory: whatever an earlier computation left there, NaN included."""
    path, f = _open(path)
    name = str(path)
    with f:
        rate = f.samplerate
        if rate <= 0:
            raise AudioError(f"{path}: invalid sample rate {rate}")
        stream = None
        if rate != sample_rate:
            import soxr
            stream = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
        blocksize = max(1, int(rate * block_seconds))
        total = 0
        try:
            while True:
                block = f.read(blocksize, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                mono = block.mean(axis=1)
                require_finite(mono, name)
                total += len(mono)
                if stream is not None:
                    mono = require_finite(stream.resample_chunk(mono), name, rate)
                if len(mono):
                    yield np.clip(mono, -1.0, 1.0)
        except AudioError:
            raise
        except Exception as e:
            raise AudioError(f"{path}: damaged audio data ({_reason(e)})") from None
        if total == 0:
            raise AudioError(f"{path}: no audio samples (zero-length file)")
        if stream is not None:
            tail = require_finite(stream.resample_chunk(np.zeros(0, np.float32), last=True),
                                  name, rate)
            if len(tail):
                yield np.clip(tail, -1.0, 1.0)


def require_finite(x: np.ndarray, name: str = "audio", resampled_from: int | None = None) -> np.ndarray:
    """`x`, or the one AudioError for NaN or infinite samples. Checked before and after
    resampling: finite samples far beyond full scale can overflow the resampler."""
    if not np.all(np.isfinite(x)):
        where = (f" after resampling from {resampled_from} Hz (samples far beyond full scale)"
                 if resampled_from else "")
        raise AudioError(f"{name}: {NOT_FINITE}{where}")
    return x


def to_mono_16k(data: np.ndarray, rate: int, name: str = "audio", sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Downmix (frames, channels) or (frames,) to mono, resample, reject NaN/inf, clip to [-1, 1]."""
    data = np.asarray(data)
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]               # mono: the mean of one channel is itself, without a pass
    elif data.ndim == 2:
        data = data.mean(axis=1)
    elif data.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D or (frames, channels) array, got shape {data.shape}")
    if data.size == 0:
        raise AudioError(f"{name}: no audio samples (zero-length signal)")
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = require_finite(data.astype(np.float32, copy=False), name)
    if rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {rate}")
    if rate != sample_rate:
        data = require_finite(resample(data, rate, sample_rate), name, rate)
    return np.clip(data, -1.0, 1.0)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality band-limited resampling (libsoxr)."""
    import soxr  # small native wheel; imported here so reading 16 kHz files never needs it

    return soxr.resample(x, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or centre-zero-pad to exactly `length` samples (as the paper's code does)."""
    n = len(x)
    if n >= length:
        start = (n - length) // 2
        return x[start:start + length]
    left = (length - n) // 2
    return np.pad(x, (left, length - n - left))


def normalise(x: np.ndarray) -> np.ndarray:
    """Divide by the 99.9th percentile of |x| and clip to [-1, 1]; silence stays silence."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    # the peak in x's own precision: a float32 peak below the smallest denormal is silence
    peak = x.dtype.type(np.percentile(np.abs(x), NORM_PERCENTILE) if len(x) else 0.0)
    if peak <= 0:
        return np.zeros_like(x, dtype=np.float32)
    # clip to the peak before dividing, which gives the same numbers as clipping after:
    # x / peak overflows (a warning, then inf) when the peak is a denormal and a click is not
    return np.clip(np.clip(x, -peak, peak) / peak, -1.0, 1.0).astype(np.float32, copy=False)


def preprocess(x: np.ndarray, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The paper's per-utterance preprocessing: fit to `seconds`, then normalise."""
    return normalise(fit_length(x, int(round(seconds * sample_rate))))


def _check_path(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    return path


def _check_complete(path: Path, log: str) -> None:
    """A header promising more audio than the file holds means a truncated copy: refuse it
    rather than silently train on (or classify) part of a clip."""
    for declared, present in SHORT_CHUNK.findall(log):
        declared, present = int(declared), int(present)
        if present < declared < STREAMED_SIZE:
            raise AudioError(f"{path}: truncated file (header declares {declared} bytes of audio, "
                             f"only {present} present)")


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    text = text[-1] if text else type(e).__name__
    # libsndfile prefixes its message with the path; the caller already names the file
    return text.split(": ", 1)[-1] if "Error opening" in text else text

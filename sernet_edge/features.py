"""The numpy MFCC front end: the one place where feature numbers live.

Trainer, converter, runtime and benchmarks all call `extract` with a `FeatureConfig`, so the
features a model was trained on are the features it sees on the device. The defaults are
the Light-SERNet front end (TensorFlow `tf.signal` pipeline of the paper's code); the
`python_speech_features` preset reproduces that library's `mfcc` for cross-checking.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from sernet_edge.audio import SAMPLE_RATE, fit_length, normalise

FLOAT_EPS = float(np.finfo(np.float64).eps)
FFT_CHUNK = 32     # frames per rfft call: keeps temporaries in cache and off the page-fault path
MEL_GROUP = 8      # mel filters per banded matmul: small products stay single-threaded in BLAS


def _validate(c: "FeatureConfig") -> None:
    problems = []
    if c.window not in ("hann", "hamming", "rect"):
        problems.append(f"window {c.window!r}")
    if c.spectrum not in ("magnitude", "power"):
        problems.append(f"spectrum {c.spectrum!r}")
    if c.mel_scale not in ("tf", "psf"):
        problems.append(f"mel_scale {c.mel_scale!r}")
    if c.dct not in ("tf", "ortho"):
        problems.append(f"dct {c.dct!r}")
    if not (0 <= c.fmin < c.fmax <= c.sample_rate / 2):
        problems.append(f"band {c.fmin}-{c.fmax} Hz at {c.sample_rate} Hz")
    if not (0 < c.n_mfcc <= c.n_mels):
        problems.append(f"n_mfcc {c.n_mfcc} with {c.n_mels} mel bands")
    if c.frame_length <= 0 or c.hop_length <= 0 or c.n_fft <= 0 or c.seconds <= 0:
        problems.append("non-positive frame, hop, FFT size or seconds")
    elif c.n_fft < c.frame_length:  # rfft would silently drop the end of every frame
        problems.append(f"n_fft {c.n_fft} shorter than frame_length {c.frame_length}")
    if c.log_offset < 0 or c.log_floor < 0 or not (c.log_offset or c.log_floor):
        problems.append("log_offset and log_floor must be >= 0 and one of them > 0 (log of 0)")
    if c.clip is not None and c.clip <= 0:
        problems.append(f"clip {c.clip}")
    if not 0 <= c.preemphasis < 1:
        problems.append(f"preemphasis {c.preemphasis}")
    if not c.cmvn_variance and not c.cmvn:
        problems.append("cmvn_variance = false without cmvn")
    if c.cmvn_skip_padding and not c.cmvn:
        problems.append("cmvn_skip_padding = true without cmvn")
    if problems:
        raise ValueError("invalid feature settings: " + ", ".join(problems))


@dataclass(frozen=True)
class FeatureConfig:
    """Every setting that shapes the model's input. Stored on each model card."""

    seconds: float = 3.0              # model input length; clips are centre-cropped/padded to it
    sample_rate: int = SAMPLE_RATE
    frame_length: int = 1024          # samples per analysis frame
    hop_length: int = 256
    n_fft: int = 1024
    window: str = "hann"              # "hann" (periodic), "hamming" (periodic) or "rect"
    spectrum: str = "magnitude"       # "magnitude" |X| or "power" |X|^2 / n_fft
    mel_scale: str = "tf"             # "tf" (tf.signal weights) or "psf" (python_speech_features bins)
    n_mels: int = 128
    fmin: float = 80.0
    fmax: float = 7600.0
    log_offset: float = 1e-6          # log(mel + log_offset)
    log_floor: float = 0.0            # then mel == 0 becomes log_floor (python_speech_features)
    dct: str = "tf"                   # "tf" (unnormalised DCT-II / sqrt(2 n_mels)) or "ortho"
    n_mfcc: int = 40
    lifter: int = 0
    append_energy: bool = False       # replace c0 with log frame energy (python_speech_features)
    preemphasis: float = 0.0
    pad_end: bool = False             # zero-pad a last partial frame (python_speech_features)
    clip: float | None = 10.0         # clip coefficients to [-clip, clip]
    normalise: bool = True            # divide by the 99.9th percentile of |x| before features
    cmvn: bool = False                # per utterance: each coefficient to zero mean, unit variance
    cmvn_variance: bool = True        # with cmvn: also to unit variance (false: mean only, CMN)
    cmvn_skip_padding: bool = False   # with cmvn: statistics over the clip's frames only; the
                                      # zero padding of a short clip becomes 0 (the mean)

    def __post_init__(self):
        _validate(self)  # at construction, so a bad model card fails when it is read

    @classmethod
    def python_speech_features(cls, **overrides) -> "FeatureConfig":
        """Settings under which `mfcc` equals `python_speech_features.mfcc` with its defaults."""
        base = dict(frame_length=400, hop_length=160, n_fft=512, window="rect", spectrum="power",
                    mel_scale="psf", n_mels=26, fmin=0.0, fmax=8000.0, log_offset=0.0,
                    log_floor=FLOAT_EPS, dct="ortho", n_mfcc=13, lifter=22, append_energy=True,
                    preemphasis=0.97, pad_end=True, clip=None, normalise=False)
        base.update(overrides)
        return cls(**base)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown feature settings: {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def num_samples(self) -> int:
        return int(round(self.seconds * self.sample_rate))

    @property
    def num_frames(self) -> int:
        return num_frames(self.num_samples, self)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model input (frames, coefficients, 1): time first."""
        return (self.num_frames, self.n_mfcc, 1)


def num_frames(n_samples: int, config: FeatureConfig) -> int:
    L, hop = config.frame_length, config.hop_length
    if n_samples <= L:
        return 1
    if config.pad_end:
        return 1 + -(-(n_samples - L) // hop)
    return 1 + (n_samples - L) // hop


def extract(signal: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Model input for one clip: fit to `config.seconds`, normalise, MFCC -> (frames, n_mfcc)."""
    signal = np.asarray(signal, dtype=np.float32)
    x = fit_length(signal, config.num_samples)
    if config.normalise:
        x = normalise(x)
    out = mfcc(x, config)
    if not config.cmvn:
        return out
    frames = clip_frames(len(signal), config) if config.cmvn_skip_padding else None
    return cmvn(out, config.cmvn_variance, frames)


def clip_frames(n_samples: int, config: FeatureConfig) -> np.ndarray:
    """Which frames of the model input hold any of a clip of `n_samples` (bool per frame):
    all for a clip at least `config.seconds` long, else those that reach into the clip
    between its centre zero padding (as `fit_length` places it)."""
    length, hop, L = config.num_samples, config.hop_length, config.frame_length
    start = np.arange(config.num_frames) * hop
    if n_samples >= length:
        return np.ones(len(start), dtype=bool)
    left = (length - n_samples) // 2
    return (start < left + n_samples) & (start + L > left)


CMVN_FLOOR = 1e-3  # a coefficient constant over the clip (silence) becomes 0, not a division by 0


def cmvn(features: np.ndarray, variance: bool = True, frames=None) -> np.ndarray:
    """Per-utterance mean and variance normalisation of each coefficient over all frames:
    the mean removes a fixed channel (microphone, room) and speaker offsets from the cepstrum;
    dividing by the deviation also removes how much each coefficient moves over the clip
    (`variance=False` keeps that: mean normalisation only, CMN).

    With `frames` (bool per frame) the statistics come from those frames only and the others
    become 0: the padding of a short clip then shifts nothing, whatever its length."""
    f = np.asarray(features, dtype=np.float64)
    used = f if frames is None or not np.any(frames) else f[frames]
    out = f - used.mean(axis=0)
    if variance:
        out /= np.maximum(used.std(axis=0), CMVN_FLOOR)
    if frames is not None:
        out[~np.asarray(frames)] = 0.0
    return out.astype(np.float32)


def mfcc(signal: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """MFCCs of a whole signal, (frames, n_mfcc) float32. No cropping or normalisation."""
    m = _matrices(config)
    # float64 throughout: numpy's float32 FFT is several times slower than its float64 one
    x = np.asarray(signal, dtype=np.float64)
    if config.preemphasis:
        x = np.append(x[:1], x[1:] - config.preemphasis * x[:-1])
    spec = _magnitude(_frame(x, config), m.window, config.n_fft)
    if config.spectrum == "power":
        np.square(spec, out=spec)
        spec *= 1.0 / config.n_fft
    mel = _apply_mel(spec, m)
    if config.log_offset:
        mel += config.log_offset
    if config.log_floor:
        # exact zeros only, as python_speech_features: a max() would differ from it on
        # hann-windowed tones, whose far bands fall below eps
        mel[mel == 0] = config.log_floor
    out = _apply_dct(np.log(mel, out=mel), m)
    if config.append_energy:
        out[:, 0] = np.log(np.maximum(spec.sum(axis=1), FLOAT_EPS))
    if config.clip is not None:
        np.clip(out, -config.clip, config.clip, out=out)
    return out.astype(np.float32)


def _magnitude(frames: np.ndarray, window: np.ndarray, n_fft: int) -> np.ndarray:
    """|rfft(frame * window)| per frame, a few frames at a time through one reused buffer:
    one big call is slower (its temporaries leave the cache and are page-faulted in anew)."""
    spec = np.empty((len(frames), n_fft // 2 + 1))
    buf = np.empty((min(FFT_CHUNK, len(frames)), frames.shape[1]))
    for i in range(0, len(frames), FFT_CHUNK):
        block = np.multiply(frames[i:i + FFT_CHUNK], window, out=buf[:len(frames) - i])
        np.abs(np.fft.rfft(block, n=n_fft, axis=1), out=spec[i:i + FFT_CHUNK])
    return spec


def _apply_mel(spec: np.ndarray, m: "_Matrices") -> np.ndarray:
    """spec @ mel, using only the band of FFT bins under each group of filters."""
    mel = np.zeros((len(spec), m.mel.shape[1]))
    for lo, hi, first, last, weights in m.mel_blocks:
        mel[:, first:last] = spec[:, lo:hi] @ weights
    return mel


def _apply_dct(logmel: np.ndarray, m: "_Matrices") -> np.ndarray:
    """logmel @ dct; as one FFT (Makhoul's reordering) when the coefficients fit in its half."""
    if m.dct_twiddle is None:
        return logmel @ m.dct
    n_out = len(m.dct_twiddle)
    return (np.fft.rfft(logmel[:, m.dct_order], axis=1)[:, :n_out] * m.dct_twiddle).real


def _frame(x: np.ndarray, config: FeatureConfig) -> np.ndarray:
    L, hop = config.frame_length, config.hop_length
    n = num_frames(len(x), config)
    needed = (n - 1) * hop + L
    if len(x) < needed:
        x = np.pad(x, (0, needed - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, L)[::hop][:n]


# ---- matrices, built once per config ----

@dataclass(frozen=True)
class _Matrices:
    window: np.ndarray          # (frame_length,)
    mel: np.ndarray             # (n_fft // 2 + 1, n_mels)
    dct: np.ndarray             # (n_mels, n_mfcc), lifter folded in
    mel_blocks: tuple           # (lo_bin, hi_bin, first_filter, last_filter, mel[lo:hi, first:last])
    dct_order: np.ndarray       # input permutation of the FFT-based DCT
    dct_twiddle: np.ndarray | None  # (n_mfcc,) complex; None: use the dct matrix


@functools.lru_cache(maxsize=16)
def _matrices(config: FeatureConfig) -> _Matrices:
    _validate(config)
    window = window_function(config.window, config.frame_length)
    builder = {"tf": mel_matrix_tf, "psf": mel_matrix_psf}[config.mel_scale]
    mel = builder(config.n_mels, config.n_fft, config.sample_rate, config.fmin, config.fmax)
    lift = np.ones(config.n_mfcc)
    if config.lifter > 0:
        lift = 1 + (config.lifter / 2.0) * np.sin(np.pi * np.arange(config.n_mfcc) / config.lifter)
    dct = dct_matrix(config.n_mels, config.n_mfcc, config.dct) * lift
    # DCT-II by FFT (Makhoul 1980): evens ascending then odds descending, then a twiddle
    n, k = config.n_mels, np.arange(config.n_mfcc)
    order = np.r_[np.arange(0, n, 2), np.arange(n - 1 - n % 2, 0, -2)]
    twiddle = None
    if config.n_mfcc <= n // 2 + 1:   # the coefficients an rfft of length n returns
        twiddle = 2.0 * np.exp(-1j * np.pi * k / (2 * n)) * dct_scale(n, len(k), config.dct) * lift
    return _Matrices(window, mel, dct, _mel_blocks(mel), order, twiddle)


def _mel_blocks(mel: np.ndarray) -> tuple:
    blocks = []
    for first in range(0, mel.shape[1], MEL_GROUP):
        last = min(first + MEL_GROUP, mel.shape[1])
        rows = np.flatnonzero(mel[:, first:last].any(axis=1))
        if len(rows):  # an all-zero group (filters narrower than a bin) contributes nothing
            lo, hi = rows[0], rows[-1] + 1
            blocks.append((lo, hi, first, last, np.ascontiguousarray(mel[lo:hi, first:last])))
    return tuple(blocks)


def window_function(kind: str, length: int) -> np.ndarray:
    """Periodic windows, as `tf.signal.hann_window(periodic=True)`."""
    if kind == "rect":
        return np.ones(length)
    n = np.arange(length)
    a = 0.5 if kind == "hann" else 0.54
    return a - (1 - a) * np.cos(2 * np.pi * n / length)


def hz_to_mel(f):
    """HTK mel scale (1127 ln(1 + f/700) == 2595 log10(1 + f/700))."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def mel_matrix_tf(n_mels: int, n_fft: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangles in mel space evaluated at each FFT bin, DC row zero: `linear_to_mel_weight_matrix`."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)[1:]
    bins_mel = hz_to_mel(freqs)[:, None]
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, n_mels)), weights])


def mel_matrix_psf(n_mels: int, n_fft: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangles between integer FFT bins, as `python_speech_features.get_filterbanks`."""
    points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    edges = np.floor((n_fft + 1) * points / sample_rate).astype(int)
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for j in range(n_mels):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        for i in range(lo, mid):
            bank[i, j] = (i - lo) / (mid - lo)
        for i in range(mid, hi):
            bank[i, j] = (hi - i) / (hi - mid)
    return bank


def dct_scale(n_in: int, n_out: int, norm: str) -> np.ndarray:
    """Per-coefficient factor on the unnormalised DCT-II 2 sum x cos(...)."""
    scale = np.full(n_out, 1.0 / np.sqrt(2.0 * n_in))
    if norm == "ortho":
        scale[0] /= np.sqrt(2.0)
    return scale


def dct_matrix(n_in: int, n_out: int, norm: str) -> np.ndarray:
    """DCT-II as a matrix (n_in, n_out): "tf" = TF's mfccs_from_log_mel scaling, "ortho" = scipy's."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * dct_scale(n_in, n_out, norm)

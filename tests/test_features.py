"""The numpy MFCC front end against TensorFlow's tf.signal pipeline (the paper's code),
python_speech_features, and a plain dense re-implementation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sernet_edge.audio import fit_length, load_audio, preprocess
from sernet_edge.features import (CMVN_FLOOR, FeatureConfig, _matrices, clip_frames, cmvn, dct_matrix,
                                  extract, mel_matrix_psf, mel_matrix_tf, mfcc, num_frames,
                                  window_function)

REPO = Path(__file__).resolve().parents[1]
CLIP_DIRS = [REPO / "sernet_edge" / "clips",
             Path(os.environ.get("SERNET_EMODB", REPO.parent / "shared" / "data" / "emodb")) / "wav"]
TF_TOL = 1e-3
PSF_TOL = 1e-4


def real_clips(limit: int = 7) -> list[Path]:
    for d in CLIP_DIRS:
        paths = sorted(d.glob("*.wav"))
        if paths:
            return paths[:limit]
    pytest.skip(f"no EMO-DB clips in {' or '.join(map(str, CLIP_DIRS))}")


def synthetic(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(n) / 16000
    impulse = np.zeros(n)
    impulse[n // 3] = 1.0
    return {
        "noise": 0.3 * rng.standard_normal(n),
        "sweep": 0.8 * np.sin(2 * np.pi * (100 + 2500 * t / t[-1]) * t),
        "tones": 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t),
        "impulse": impulse,
        "quiet": 1e-4 * rng.standard_normal(n),
    }


def hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def dense_reference(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The pipeline written out with full matrices and no tricks, float64."""
    x = np.asarray(x, np.float64)
    if cfg.preemphasis:
        x = np.append(x[:1], x[1:] - cfg.preemphasis * x[:-1])
    n = num_frames(len(x), cfg)
    x = np.pad(x, (0, max(0, (n - 1) * cfg.hop_length + cfg.frame_length - len(x))))
    frames = np.stack([x[i * cfg.hop_length:i * cfg.hop_length + cfg.frame_length] for i in range(n)])
    spec = np.abs(np.fft.rfft(frames * window_function(cfg.window, cfg.frame_length), n=cfg.n_fft))
    if cfg.spectrum == "power":
        spec = spec ** 2 / cfg.n_fft
    build = mel_matrix_tf if cfg.mel_scale == "tf" else mel_matrix_psf
    mel = spec @ build(cfg.n_mels, cfg.n_fft, cfg.sample_rate, cfg.fmin, cfg.fmax) + cfg.log_offset
    if cfg.log_floor:
        mel = np.where(mel == 0, cfg.log_floor, mel)
    out = np.log(mel) @ dct_matrix(cfg.n_mels, cfg.n_mfcc, cfg.dct)
    if cfg.lifter:
        out *= 1 + cfg.lifter / 2 * np.sin(np.pi * np.arange(cfg.n_mfcc) / cfg.lifter)
    if cfg.append_energy:
        out[:, 0] = np.log(np.maximum(spec.sum(axis=1), np.finfo(float).eps))
    return out if cfg.clip is None else np.clip(out, -cfg.clip, cfg.clip)


# ---- shapes and frame counts ----

@pytest.mark.parametrize("seconds,frames", [(3, 184), (7, 434)])
def test_model_input_shape(seconds, frames):
    cfg = FeatureConfig(seconds=seconds)
    assert cfg.num_samples == seconds * 16000
    assert cfg.num_frames == frames == (seconds * 16000 - 1024 + 256) // 256
    assert cfg.input_shape == (frames, 40, 1)
    for n in (1000, seconds * 16000, 200000):   # any clip length gives the model's shape
        out = extract(synthetic(n)["noise"], cfg)
        assert out.shape == (frames, 40) and out.dtype == np.float32


def test_extract_real_clip_shapes():
    x = load_audio(real_clips(1)[0])
    assert extract(x).shape == (184, 40)
    assert extract(x, FeatureConfig(seconds=7)).shape == (434, 40)


def test_frame_count_rules():
    ours = FeatureConfig()
    padded = FeatureConfig(pad_end=True)
    assert num_frames(48000, ours) == 184 and num_frames(48000, padded) == 185
    for k in (0, 1, 5):
        n = 1024 + 256 * k   # frames fit exactly: padding changes nothing
        assert num_frames(n, ours) == num_frames(n, padded) == k + 1
        assert num_frames(n + 1, ours) == k + 1 and num_frames(n + 1, padded) == k + 2
    assert num_frames(0, ours) == num_frames(1024, ours) == num_frames(1, padded) == 1
    assert mfcc(np.zeros(10), ours).shape == (1, 40)


def test_psf_frame_count_is_185_for_3_s():
    psf = pytest.importorskip("python_speech_features")
    x = synthetic(48000)["noise"]
    theirs = psf.mfcc(x, 16000, winlen=0.064, winstep=0.016, nfft=1024, nfilt=40, numcep=20)
    assert theirs.shape[0] == 185
    assert mfcc(x, FeatureConfig.python_speech_features(frame_length=1024, hop_length=256,
                                                        n_fft=1024)).shape[0] == 185
    assert extract(x).shape[0] == 184


# ---- TensorFlow: the paper's front end ----

def tf_mfcc(tf, x: np.ndarray) -> np.ndarray:
    stft = tf.signal.stft(tf.constant(x, tf.float32), frame_length=1024, frame_step=256,
                          fft_length=1024, window_fn=tf.signal.hann_window)
    mel = tf.tensordot(tf.abs(stft), tf.signal.linear_to_mel_weight_matrix(128, 513, 16000, 80.0, 7600.0), 1)
    coeffs = tf.signal.mfccs_from_log_mel_spectrograms(tf.math.log(mel + 1e-6))[..., :40]
    return tf.clip_by_value(coeffs, -10.0, 10.0).numpy()


def test_matches_tensorflow():
    tf = pytest.importorskip("tensorflow", reason="the TF cross-check needs the [train] extra")
    # Pure tones get a -60 dB noise floor: TF's float32 STFT leaks about 1e-7 of a tone into
    # every band, far above the 1e-6 log offset, so their empty bands would compare rounding noise.
    floor = 1e-3 * np.random.default_rng(3).standard_normal(7 * 16000)
    signals = {p.name: load_audio(p) for p in real_clips()}
    signals.update(synthetic(48000))
    signals["sweep"] = signals["sweep"] + floor[:48000]
    signals["tones"] = signals["tones"] + floor[:48000]
    signals["seven seconds"] = synthetic(7 * 16000)["tones"] + floor
    for name, raw in signals.items():
        cfg = FeatureConfig(seconds=7 if name == "seven seconds" else 3)
        x = preprocess(raw, cfg.seconds)
        ours, theirs = mfcc(x, cfg), tf_mfcc(tf, x)
        assert ours.shape == theirs.shape == (cfg.num_frames, 40), name
        assert np.max(np.abs(ours - theirs)) < TF_TOL, name
        assert np.max(np.abs(extract(raw, cfg) - theirs)) < TF_TOL, name
    weights = tf.signal.linear_to_mel_weight_matrix(128, 513, 16000, 80.0, 7600.0).numpy()
    np.testing.assert_allclose(mel_matrix_tf(128, 1024, 16000, 80, 7600), weights, atol=1e-4)
    np.testing.assert_allclose(window_function("hann", 1024), tf.signal.hann_window(1024).numpy(),
                               atol=1e-6)


# ---- python_speech_features, in its own configurations ----

PSF_CASES = {
    "defaults": ({}, {}),
    "hann-1024": (dict(nfilt=40, numcep=20, nfft=1024, winlen=0.064, winstep=0.016, winfunc=hann,
                       ceplifter=0),
                  dict(n_mels=40, n_mfcc=20, n_fft=1024, frame_length=1024, hop_length=256,
                       window="hann", lifter=0)),
    "paper-like": (dict(nfilt=128, numcep=40, nfft=1024, winlen=0.064, winstep=0.016, lowfreq=80,
                        highfreq=7600, preemph=0, ceplifter=0, appendEnergy=False, winfunc=hann),
                   dict(n_mels=128, n_mfcc=40, n_fft=1024, frame_length=1024, hop_length=256,
                        fmin=80, fmax=7600, preemphasis=0, lifter=0, append_energy=False,
                        window="hann")),
}


@pytest.mark.parametrize("case", PSF_CASES)
def test_matches_python_speech_features(case):
    psf = pytest.importorskip("python_speech_features")
    theirs_kw, ours_kw = PSF_CASES[case]
    cfg = FeatureConfig.python_speech_features(**ours_kw)
    signals = [load_audio(p) for p in real_clips(3)] + list(synthetic(48000).values())
    for x in signals:
        # float64 in: given float32, python_speech_features computes in float32
        theirs = psf.mfcc(x.astype(np.float64), 16000, **theirs_kw)
        ours = mfcc(x, cfg)
        assert ours.shape == theirs.shape
        assert np.max(np.abs(ours - theirs)) < PSF_TOL


def test_psf_filterbank_matches():
    psf = pytest.importorskip("python_speech_features")
    for nfilt, nfft, low, high in [(26, 512, 0, 8000), (40, 1024, 80, 7600), (128, 1024, 80, 7600)]:
        theirs = psf.get_filterbanks(nfilt, nfft, 16000, low, high)
        np.testing.assert_allclose(mel_matrix_psf(nfilt, nfft, 16000, low, high), theirs.T, atol=1e-12)


# ---- the fast paths against the dense reference ----

@pytest.mark.parametrize("overrides", [
    {},
    dict(n_mels=25, n_mfcc=13),                  # odd mel count: FFT-based DCT, last usable column
    dict(n_mels=40, n_mfcc=21),                  # n_mels // 2 + 1: FFT-based DCT
    dict(n_mels=40, n_mfcc=22),                  # beyond it: the DCT matrix
    dict(n_mels=40, n_mfcc=40, dct="ortho", lifter=22, spectrum="power", window="hamming"),
    dict(n_fft=2048, preemphasis=0.5, pad_end=True, clip=None),
    dict(frame_length=400, hop_length=160, n_fft=512, window="rect", n_mels=64, fmin=0, fmax=8000),
])
def test_fast_paths_equal_dense_reference(overrides):
    cfg = FeatureConfig(**overrides)
    for x in synthetic(20000).values():
        np.testing.assert_allclose(mfcc(x, cfg), dense_reference(x, cfg), atol=2e-5)


def test_dct_matrix_against_scipy():
    fft = pytest.importorskip("scipy.fft")
    eye = np.eye(32)
    np.testing.assert_allclose(dct_matrix(32, 12, "ortho"), fft.dct(eye, type=2, norm="ortho")[:, :12],
                               atol=1e-12)
    np.testing.assert_allclose(dct_matrix(32, 12, "tf"), fft.dct(eye, type=2)[:, :12] / np.sqrt(64),
                               atol=1e-12)


def test_window_is_periodic_hann():
    w = window_function("hann", 8)
    np.testing.assert_allclose(w, [0, 0.1464466, 0.5, 0.8535534, 1, 0.8535534, 0.5, 0.1464466], atol=1e-7)
    np.testing.assert_array_equal(window_function("rect", 5), np.ones(5))


# ---- caching, silence, bad settings ----

def test_matrices_cached_per_config():
    a = _matrices(FeatureConfig())
    assert _matrices(FeatureConfig()) is a
    assert _matrices(FeatureConfig(seconds=3)) is a
    assert _matrices(FeatureConfig(n_mels=64)) is not a
    assert a.mel.shape == (513, 128) and a.dct.shape == (128, 40) and a.window.shape == (1024,)


def test_extract_of_silence_is_finite():
    for cfg in (FeatureConfig(), FeatureConfig.python_speech_features(seconds=3)):
        out = extract(np.zeros(48000, np.float32), cfg)
        assert out.shape == (cfg.num_frames, cfg.n_mfcc)
        assert np.all(np.isfinite(out))
    out = extract(np.zeros(48000, np.float32))
    # ln(1e-6) in all 128 bands: c0 = 128 * ln(1e-6) * 2 / sqrt(256) = -221 -> clipped; the rest 0
    np.testing.assert_array_equal(out[:, 0], -10.0)
    np.testing.assert_allclose(out[:, 1:], 0.0, atol=1e-5)
    assert np.all(np.isfinite(extract(np.zeros(0, np.float32))))


def test_extract_is_fit_normalise_mfcc():
    x = synthetic(60000)["tones"]
    np.testing.assert_array_equal(extract(x), mfcc(preprocess(x.astype(np.float32), 3.0)))
    # normalisation makes the features independent of the recording level (broadband signals:
    # in a pure tone's empty bands float32 rounding noise is as large as the 1e-6 log offset)
    for x in (synthetic(60000)["noise"], load_audio(real_clips(1)[0])):
        np.testing.assert_allclose(extract(0.01 * x), extract(x), atol=1e-3)


@pytest.mark.parametrize("bad", [
    dict(window="triangle"), dict(spectrum="complex"), dict(mel_scale="slaney"), dict(dct="idct"),
    dict(n_mfcc=0), dict(n_mfcc=129), dict(fmax=9000), dict(fmin=8000, fmax=7600), dict(fmin=-1),
    dict(hop_length=0), dict(seconds=0), dict(frame_length=2048), dict(log_offset=0),
    dict(log_offset=-1), dict(clip=0), dict(preemphasis=1.0), dict(sample_rate=0),
])
def test_invalid_config_raises_value_error(bad):
    with pytest.raises(ValueError, match="invalid feature settings"):
        FeatureConfig(**bad)


def test_dict_round_trip_and_unknown_keys():
    cfg = FeatureConfig(seconds=7, n_mfcc=20)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown feature settings: colour"):
        FeatureConfig.from_dict({**cfg.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="n_mfcc"):
        FeatureConfig.from_dict({**cfg.to_dict(), "n_mfcc": 500})


# ---- per-utterance mean and variance normalisation ----

def test_cmvn_zero_mean_unit_std_per_coefficient():
    rng = np.random.default_rng(3)
    f = rng.normal(loc=np.arange(40) - 20.0, scale=np.linspace(0.1, 5, 40), size=(184, 40))
    out = cmvn(f)
    assert out.shape == f.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-5)
    # each coefficient on its own: an affine change of one column changes nothing
    g = f.copy()
    g[:, 7] = 3 * g[:, 7] + 11
    np.testing.assert_allclose(cmvn(g), out, atol=1e-5)


def test_cmvn_constant_coefficient_becomes_zero():
    f = np.random.default_rng(4).standard_normal((100, 5))
    f[:, 2] = -7.5                                  # constant over the clip (silence)
    f[:, 4] = 1.0 + np.r_[np.zeros(99), 1e-6]       # almost constant: below the floor
    out = cmvn(f)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, 2], 0.0)
    assert np.abs(out[:, 4]).max() < 1e-6 / CMVN_FLOOR
    np.testing.assert_allclose(out[:, [0, 1, 3]].std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(cmvn(np.zeros((10, 3))), 0.0)


def test_extract_with_cmvn_is_cmvn_of_extract():
    for x in (synthetic(60000)["noise"], synthetic(40000)["tones"], load_audio(real_clips(1)[0])):
        plain = extract(x, FeatureConfig(cmvn=False))
        np.testing.assert_array_equal(extract(x, FeatureConfig(cmvn=True)), cmvn(plain))
    assert FeatureConfig().cmvn is False          # off by default: shipped cards unchanged
    cfg = FeatureConfig(seconds=1, cmvn=True)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["cmvn"] is True
    # silence stays finite and becomes all zeros
    np.testing.assert_array_equal(extract(np.zeros(16000, np.float32), cfg), 0.0)


def test_mean_only_normalisation_keeps_each_coefficients_spread():
    rng = np.random.default_rng(5)
    f = rng.normal(loc=np.arange(40) - 20.0, scale=np.linspace(0.1, 5, 40), size=(184, 40))
    out = cmvn(f, variance=False)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), f.std(axis=0), rtol=1e-6)
    # a fixed channel adds a constant to each coefficient: removed exactly
    np.testing.assert_allclose(cmvn(f + np.linspace(-3, 3, 40), variance=False), out, atol=1e-5)
    x = load_audio(real_clips(1)[0])
    cfg = FeatureConfig(cmvn=True, cmvn_variance=False)
    np.testing.assert_array_equal(extract(x, cfg), cmvn(extract(x, FeatureConfig()), variance=False))
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    # older cards have no cmvn_variance: they mean full CMVN
    old = {k: v for k, v in FeatureConfig(cmvn=True).to_dict().items() if k != "cmvn_variance"}
    assert FeatureConfig.from_dict(old).cmvn_variance is True
    with pytest.raises(ValueError, match="cmvn_variance = false without cmvn"):
        FeatureConfig(cmvn_variance=False)


@pytest.mark.parametrize("n", [1, 1000, 20_000, 31_000, 47_999, 48_000, 90_000])
def test_clip_frames_are_the_frames_that_reach_into_the_clip(n):
    """Against the frames themselves: a clip with no zero sample, fitted to 3 s; a frame
    holds some of it exactly when one of its samples is not padding."""
    cfg = FeatureConfig()
    x = fit_length(np.ones(n, np.float32), cfg.num_samples)
    starts = np.arange(cfg.num_frames) * cfg.hop_length
    expected = np.array([x[s:s + cfg.frame_length].any() for s in starts])
    np.testing.assert_array_equal(clip_frames(n, cfg), expected)


def test_cmvn_skip_padding_takes_statistics_over_the_clip_only():
    x = load_audio(real_clips(1)[0])[:24_000]           # 1.5 s: half of the 3 s input is padding
    cfg = FeatureConfig(cmvn=True, cmvn_skip_padding=True)
    out, frames = extract(x, cfg), clip_frames(len(x), cfg)
    assert 0 < frames.sum() < len(frames)
    np.testing.assert_array_equal(out[~frames], 0.0)
    np.testing.assert_allclose(out[frames].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[frames].std(axis=0), 1.0, atol=1e-4)
    plain = extract(x, FeatureConfig())
    np.testing.assert_array_equal(out, cmvn(plain, frames=frames))
    # the old statistics include the padding: the clip's frames come out otherwise
    assert not np.allclose(extract(x, FeatureConfig(cmvn=True))[frames], out[frames], atol=0.05)
    # a clip as long as the input has no padding: the same as plain CMVN
    y = np.tile(x, 3)                                    # 4.5 s: centre-cropped, no padding
    np.testing.assert_array_equal(extract(y, cfg), extract(y, FeatureConfig(cmvn=True)))
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert FeatureConfig.from_dict(FeatureConfig(cmvn=True).to_dict()).cmvn_skip_padding is False
    with pytest.raises(ValueError, match="cmvn_skip_padding = true without cmvn"):
        FeatureConfig(cmvn_skip_padding=True)

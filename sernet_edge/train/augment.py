"""Training batches and optional augmentation (all off by default).

Offline (extra copies of each training utterance, features cached like the originals):
  speed  - speed perturbation 0.9x and 1.1x (Ko et al. 2015), tempo and pitch together
  noise  - white noise at a random 10-30 dB SNR
  channel - a random recording chain per clip: band limits (low cut 50-400 Hz, high cut
            3-8 kHz) and a smooth +-10 dB equaliser, as microphones, rooms and lines differ
  short  - a random 0.5-1.5 s piece of the clip's speech (found by the files' speech gate),
           zero padded as any short input is: single words, and speech between pauses
Online (per example and epoch, on the waveform; recomputes the MFCCs):
  room   - with p 0.7 the clip as a room's microphone hears it: white, pink or brown noise,
           babble of 3-7 other training speakers, or a recorded noise (`noise_dir`), at
           0-30 dB SNR on the speech, through the whole window; with p 0.3 first a simulated
           room (RT60 0.2-0.8 s, 1-3 m; sernet_edge.noise)
Online (per batch, on the MFCC image):
  specaugment - two time masks (<= 20 frames) and two coefficient masks (<= 4)
  mixup       - convex mixes of example pairs and their labels, Beta(0.2, 0.2)
"""

from __future__ import annotations

import zlib

import numpy as np

from sernet_edge.audio import SAMPLE_RATE

SPEED_FACTORS = (0.9, 1.1)
SHORT_SECONDS = (0.5, 1.5)


def _speed(factor: float):
    from sernet_edge.audio import resample

    def apply(x):
        # played back `factor` times faster: resample as if the rate were rate*factor
        return resample(x, int(round(SAMPLE_RATE * factor)), SAMPLE_RATE)
    return apply


def _noise(seed: int):
    def apply(x):
        rng = np.random.default_rng(seed + len(x))
        snr_db = rng.uniform(10, 30)
        power = float(np.mean(x ** 2)) or 1e-8
        noise = rng.standard_normal(len(x)).astype(np.float32)
        return np.clip(x + noise * np.sqrt(power / 10 ** (snr_db / 10)), -1, 1)
    return apply


def random_channel(x: np.ndarray, rng) -> np.ndarray:
    """`x` through a random linear channel, zero-phase, applied as one gain curve in the FFT:
    a +-10 dB equaliser through 8 log-spaced points (100 Hz-8 kHz) and 24 dB/octave
    roll-offs below a low cut (50-400 Hz) and above a high cut (3-8 kHz), both log-uniform.
    A telephone line is one such chain (300-3400 Hz)."""
    n = len(x)
    if n == 0:
        return x.astype(np.float32)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 1.0)
    knots = np.geomspace(100, 8000, 8)
    gain_db = np.interp(np.log(f), np.log(knots), rng.uniform(-10, 10, len(knots)))
    low = np.exp(rng.uniform(np.log(50), np.log(400)))
    high = np.exp(rng.uniform(np.log(3000), np.log(8000)))
    gain_db -= 24 * np.log2(np.maximum(low / f, 1)) + 24 * np.log2(np.maximum(f / high, 1))
    y = np.fft.irfft(np.fft.rfft(x.astype(np.float64)) * 10 ** (gain_db / 20), n)
    y *= float(np.max(np.abs(x))) / max(float(np.max(np.abs(y))), 1e-8)  # the clip's peak kept
    return np.clip(y, -1, 1).astype(np.float32)


def _channel(seed: int):
    def apply(x):
        # one channel per clip, the same every run: seeded by the clip's samples
        return random_channel(x, np.random.default_rng([seed, zlib.crc32(x.tobytes())]))
    return apply


def speech_part(x: np.ndarray) -> np.ndarray:
    """The samples of `x` that the runtime's file gate keeps as speech (pauses left out)."""
    from sernet_edge.speech import SpeechTrack, recording_gate, speech_only
    gate, floor = recording_gate(lambda: [x], SAMPLE_RATE)
    kept = list(speech_only([x], gate, SAMPLE_RATE, SpeechTrack(SAMPLE_RATE), floor))
    return np.concatenate(kept) if kept else x[:0]


def _short(seed: int):
    def apply(x):
        speech = speech_part(x)
        if len(speech) == 0:          # no speech found: the clip as it is
            return x
        rng = np.random.default_rng([seed, zlib.crc32(x.tobytes())])
        n = int(rng.uniform(*SHORT_SECONDS) * SAMPLE_RATE)
        start = int(rng.integers(0, max(0, len(speech) - n) + 1))
        return speech[start:start + n]
    return apply


def offline_copies(corpus, features, augment, cache_dir, progress=None):
    """[(X, y), ...] one augmented copy of the whole corpus per offline transform."""
    from sernet_edge.train.dataset import load_features
    variants = []
    if "speed" in augment:
        variants += [(f"speed{f}", _speed(f)) for f in SPEED_FACTORS]
    if "noise" in augment:
        variants.append(("noise10-30db", _noise(1234)))
    if "channel" in augment:
        variants.append(("channel-eq10-v1", _channel(4321)))
    if "short" in augment:
        variants.append(("short0.5-1.5s-v1", _short(2468)))
    copies = []
    for name, transform in variants:
        X, y, _ = load_features(corpus, features, cache_dir, variant=name, transform=transform,
                                progress=progress)
        copies.append((X, y))
    return copies


def spec_augment(batch: np.ndarray, rng, time_masks=2, max_time=20, freq_masks=2, max_freq=4):
    out = batch.copy()
    frames, coeffs = out.shape[1], out.shape[2]
    for x in out:
        for _ in range(time_masks):
            w = rng.integers(0, max_time + 1)
            t = rng.integers(0, max(1, frames - w))
            x[t:t + w] = 0.0
        for _ in range(freq_masks):
            w = rng.integers(0, max_freq + 1)
            f = rng.integers(0, max(1, coeffs - w))
            x[:, f:f + w] = 0.0
    return out


def mixup(X, Y, rng, alpha=0.2):
    lam = rng.beta(alpha, alpha, size=(len(X),)).astype(np.float32)
    perm = rng.permutation(len(X))
    lx = lam.reshape((-1,) + (1,) * (X.ndim - 1))
    return lx * X + (1 - lx) * X[perm], lam[:, None] * Y + (1 - lam[:, None]) * Y[perm]


def _pydataset_base():
    import keras
    return keras.utils.PyDataset


ROOM_P = 0.7
ROOM_SNR_DB = (0.0, 30.0)
ROOM_REVERB_P = 0.3
ROOM_RT60 = (0.2, 0.8)
ROOM_BANK = 48                # simulated rooms, drawn once per run (a room takes 0.1-2 s)


class RoomAudio:
    """The training clips' waveforms, fitted to the model's window as `extract` fits them, and
    each clip's speech power, for `room` augmentation. `rows` picks a subset (a fold)."""

    def __init__(self, corpus, features, noise_dir: str = "", seed: int = 0, progress=None):
        from sernet_edge.audio import fit_length, load_audio
        from sernet_edge.noise import read_noise_files, room_impulse_response, speech_power
        self.features = features
        n = features.num_samples
        items = corpus.items if progress is None else progress(corpus.items)
        self.audio = np.zeros((len(corpus.items), n), np.float32)
        self.power = np.zeros(len(corpus.items))
        for i, item in enumerate(items):
            x = load_audio(item.path, features.sample_rate)
            self.power[i] = speech_power(x, features.sample_rate)
            self.audio[i] = fit_length(x, n)
        self.speakers = np.array([it.speaker for it in corpus.items])
        self.noises = read_noise_files([noise_dir]) if noise_dir else []
        rng = np.random.default_rng([seed, 7])
        self.rirs = [room_impulse_response(rng.uniform(*ROOM_RT60), rng) for _ in range(ROOM_BANK)]

    def subset(self, rows: np.ndarray) -> "RoomAugment":
        return RoomAugment(self, np.flatnonzero(rows))


class RoomAugment:
    """`room` augmentation for the training rows `index` (rows of RoomAudio)."""

    def __init__(self, data: RoomAudio, index: np.ndarray):
        self.data, self.index = data, index
        from sernet_edge.noise import KINDS
        self.kinds = KINDS + (("files",) if data.noises else ())

    def __len__(self):
        return len(self.index)

    def features(self, row: int, rng) -> np.ndarray | None:
        """The MFCC image of training row `row` in a random room, or None (p 0.3: as it is)."""
        from sernet_edge.features import extract
        from sernet_edge.noise import babble, coloured_noise, recorded, reverberate
        if row >= len(self.index) or rng.random() >= ROOM_P:
            return None
        d = self.data
        i = self.index[row]
        x = d.audio[i].astype(np.float64)
        n = len(x)
        if rng.random() < ROOM_REVERB_P:
            x = reverberate(x, d.rirs[int(rng.integers(len(d.rirs)))])[:n]
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        if kind == "babble":
            others = self.index[d.speakers[self.index] != d.speakers[i]]
            noise = babble([d.audio[j] for j in rng.choice(others, 7)], n, rng) if len(others) \
                else coloured_noise("pink", n, rng)
        elif kind == "files":
            noise = recorded(d.noises, n, rng)
        else:
            noise = coloured_noise(kind, n, rng)
        snr = rng.uniform(*ROOM_SNR_DB)
        y = x + np.sqrt(d.power[i] / 10 ** (snr / 10)) * noise
        return extract(y.astype(np.float32), d.features)[..., None]


class TrainBatches(_pydataset_base()):
    """Shuffled one-hot batches; online augmentation when the recipe asks for it.

    With `weights` (from trainer.sample_weights) an epoch is as many examples as the data,
    drawn with replacement in proportion to the weights, so rare corpora and classes are seen
    as often as common ones. With `soft` (a teacher's probabilities per example, already
    softened: trainer.teacher_targets) each target is (1 - distill_weight) times the (smoothed)
    label plus distill_weight times the teacher's row."""

    def __init__(self, X, y, n_classes, recipe, seed=0, weights=None, soft=None, room=None):
        super().__init__()
        self.room, self.seed, self.epoch = room, seed, 0
        self.X, self.Y = X, np.eye(n_classes, dtype=np.float32)[y]
        if recipe.label_smoothing:
            self.Y = self.Y * (1 - recipe.label_smoothing) + recipe.label_smoothing / n_classes
        if soft is not None:
            w = recipe.distill_weight
            self.Y = ((1 - w) * self.Y + w * np.asarray(soft, np.float32)).astype(np.float32)
        self.batch, self.augment = recipe.batch_size, recipe.augment
        self.weights = weights
        self.rng = np.random.default_rng(seed)
        self.order = self._draw()

    def _draw(self):
        if self.weights is None:
            return self.rng.permutation(len(self.X))
        return self.rng.choice(len(self.X), size=len(self.X), replace=True, p=self.weights)

    def __len__(self):
        return int(np.ceil(len(self.X) / self.batch))

    def __getitem__(self, i):
        idx = self.order[i * self.batch:(i + 1) * self.batch]
        X, Y = self.X[idx], self.Y[idx]
        if self.room is not None:
            # one stream per (epoch, batch): the same run draws the same rooms
            rng = np.random.default_rng([self.seed, self.epoch, i])
            X = X.copy()
            for k, row in enumerate(idx):
                f = self.room.features(int(row), rng)
                if f is not None:
                    X[k] = f
        if "specaugment" in self.augment:
            X = spec_augment(X, self.rng)
        if "mixup" in self.augment:
            X, Y = mixup(X, Y, self.rng)
        return X, Y

    def on_epoch_end(self):
        self.order = self._draw()
        self.epoch += 1

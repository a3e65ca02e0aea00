"""Voice-activity gates: decide from the newest hop whether there is speech worth classifying.

Silence is not an emotion; classifying it wastes an inference and yields a confident-looking
guess. `energy` compares the hop's RMS level with a threshold; live (`track_noise`), the
threshold also rises to 6 dB over the stream's steady noise of the last 5 s (the file gate's
rule, sernet_edge.speech.steady_noise_db), so a fan, hum or traffic is not speech however loud.
`webrtc` needs the same energy floor and then WebRTC's speech detector (aggressive mode) on
at least a fraction of the hop's 30 ms frames: that rejects mains hum and low rumble, though
not broadband noise (measured: a -13 dBFS 100 Hz hum and brown noise are rejected, white
noise at -20 dBFS is not). `auto` is `energy`, for files and live alike.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sernet_edge.errors import SernetError

DEFAULT_ENERGY_DB = -45.0
VAD_CHOICES = ("auto", "energy", "webrtc", "off")
# what "auto" means, for files and live alike: the energy gate over the noise floor keeps more
# speech than WebRTC VAD on top of it (92 % of speech hops at 30 dB SNR against 86 %) and leaves
# steady noise out as well (benchmarks/results/noise-gates-2026-12-07.md); on files WebRTC VAD
# also cut 8-19 % of CREMA-D's speech (experiments/speech-gate-for-files)
AUTO_GATE = "energy"
WEBRTC_MODE = 3                  # 0 (permissive) .. 3 (aggressive): 3 rejects hum
WEBRTC_FRAME_SECONDS = 0.03
WEBRTC_RATES = (8000, 16000, 32000, 48000)
MIN_SPEECH_FRACTION = 0.3        # share of a hop's frames that must hold speech
LEVEL_FLOOR_DB = -120.0          # level of digital silence, instead of -inf


def level_dbfs(x: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    if len(x) == 0:
        return LEVEL_FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return max(LEVEL_FLOOR_DB, 20.0 * np.log10(rms)) if rms > 0 else LEVEL_FLOOR_DB


NOISE_HISTORY_SECONDS = 5.0      # the live noise floor is measured over this much audio


class NoiseFloor:
    """The level of a stream's steady noise over its last 5 s of 0.1 s frames (dBFS), or
    None while it has none: `update(hop)` after each hop."""

    def __init__(self, sample_rate: int):
        from sernet_edge.speech import FRAME_SECONDS
        self.size = int(round(FRAME_SECONDS * sample_rate))
        self.levels: deque = deque(maxlen=int(round(NOISE_HISTORY_SECONDS / FRAME_SECONDS)))
        self.rest = np.zeros(0, np.float32)
        self.noise_db: float | None = None

    def update(self, hop: np.ndarray) -> float | None:
        from sernet_edge.speech import steady_noise_db
        x = np.concatenate([self.rest, np.asarray(hop, np.float32)])
        n = len(x) // self.size * self.size
        self.levels.extend(level_dbfs(f) for f in x[:n].reshape(-1, self.size))
        self.rest = x[n:]
        self.noise_db = steady_noise_db(np.array(self.levels))
        return self.noise_db


class EnergyGate:
    """Speech when the hop's level reaches `threshold_db`; with `sample_rate` given (live), also
    6 dB over the stream's steady noise (`NoiseFloor`)."""
    name = "energy"

    def __init__(self, threshold_db: float = DEFAULT_ENERGY_DB, sample_rate: int | None = None):
        self.threshold_db = threshold_db
        self.noise = NoiseFloor(sample_rate) if sample_rate else None

    @property
    def noise_db(self) -> float | None:
        """The stream's steady noise level so far (dBFS); None without tracking or noise."""
        return self.noise.noise_db if self.noise is not None else None

    def threshold(self) -> float:
        from sernet_edge.speech import NOISE_MARGIN_DB
        noise = self.noise_db
        return self.threshold_db if noise is None else max(self.threshold_db, noise + NOISE_MARGIN_DB)

    def is_speech(self, hop: np.ndarray, level_db: float) -> bool:
        if self.noise is not None:
            self.noise.update(hop)
        return bool(level_db >= self.threshold())


class WebRtcGate:
    name = "webrtc"

    def __init__(self, sample_rate: int, threshold_db: float = DEFAULT_ENERGY_DB,
                 mode: int = WEBRTC_MODE, min_fraction: float = MIN_SPEECH_FRACTION,
                 track_noise: bool = False):
        webrtcvad = import_webrtcvad()
        if sample_rate not in WEBRTC_RATES:
            raise SernetError(f"WebRTC VAD works at {', '.join(map(str, WEBRTC_RATES))} Hz, "
                              f"not {sample_rate} Hz: use --vad energy")
        self.vad = webrtcvad.Vad(mode)
        self.rate = sample_rate
        self.frame = int(sample_rate * WEBRTC_FRAME_SECONDS)
        self.energy = EnergyGate(threshold_db, sample_rate if track_noise else None)
        self.min_fraction = min_fraction

    @property
    def noise_db(self) -> float | None:
        return self.energy.noise_db

    def is_speech(self, hop: np.ndarray, level_db: float) -> bool:
        if not self.energy.is_speech(hop, level_db):
            return False
        n = len(hop) // self.frame
        if n == 0:          # hop shorter than one frame: the energy floor decides alone
            return True
        pcm = (np.clip(hop[:n * self.frame], -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = self.frame * 2
        voiced = sum(self.vad.is_speech(pcm[i * step:(i + 1) * step], self.rate) for i in range(n))
        return voiced >= self.min_fraction * n


def import_webrtcvad():
    try:
        import webrtcvad
    except ImportError:
        raise SernetError("WebRTC VAD is not installed: the [vad] extra: pip install '.[vad]' in the sernet-edge folder "
                          "(or use --vad energy)") from None
    return webrtcvad


def webrtc_available() -> bool:
    try:
        import_webrtcvad()
    except SernetError:
        return False
    return True


def make_gate(kind: str, sample_rate: int, threshold_db: float = DEFAULT_ENERGY_DB,
              track_noise: bool = False):
    """The gate for --vad: auto = AUTO_GATE (energy); off = None (no gate).
    `track_noise`: a live stream's gate, whose threshold follows the stream's steady noise."""
    if kind not in VAD_CHOICES:
        raise SernetError(f"unknown VAD {kind!r}: choose one of {', '.join(VAD_CHOICES)}")
    if kind == "auto":
        kind = AUTO_GATE
    if kind == "off":
        return None
    if kind == "energy":
        return EnergyGate(threshold_db, sample_rate if track_noise else None)
    return WebRtcGate(sample_rate, threshold_db, track_noise=track_noise)

"""Voice-activity gates: decide from the newest hop whether there is speech worth classifying.

Silence is not an emotion; classifying it wastes an inference and yields a confident-looking
guess. `energy` compares the hop's RMS level with a threshold: loud hum or traffic passes it.
`webrtc` needs the same energy floor and then WebRTC's speech detector (aggressive mode) on
at least a fraction of the hop's 30 ms frames: that rejects mains hum and low rumble, though
not broadband noise (measured: a -13 dBFS 100 Hz hum and brown noise are rejected, white
noise at -20 dBFS is not).
"""

from __future__ import annotations

import numpy as np

from sernet_edge.errors import SernetError

DEFAULT_ENERGY_DB = -45.0
VAD_CHOICES = ("auto", "energy", "webrtc", "off")
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


class EnergyGate:
    name = "energy"

    def __init__(self, threshold_db: float = DEFAULT_ENERGY_DB):
        self.threshold_db = threshold_db

    def is_speech(self, hop: np.ndarray, level_db: float) -> bool:
        return level_db >= self.threshold_db


class WebRtcGate:
    name = "webrtc"

    def __init__(self, sample_rate: int, threshold_db: float = DEFAULT_ENERGY_DB,
                 mode: int = WEBRTC_MODE, min_fraction: float = MIN_SPEECH_FRACTION):
        webrtcvad = import_webrtcvad()
        if sample_rate not in WEBRTC_RATES:
            raise SernetError(f"WebRTC VAD works at {', '.join(map(str, WEBRTC_RATES))} Hz, "
                              f"not {sample_rate} Hz: use --vad energy")
        self.vad = webrtcvad.Vad(mode)
        self.rate = sample_rate
        self.frame = int(sample_rate * WEBRTC_FRAME_SECONDS)
        self.energy = EnergyGate(threshold_db)
        self.min_fraction = min_fraction

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


def make_gate(kind: str, sample_rate: int, threshold_db: float = DEFAULT_ENERGY_DB):
    """The gate for --vad: auto = webrtc if importable else energy; off = None (no gate)."""
    if kind not in VAD_CHOICES:
        raise SernetError(f"unknown VAD {kind!r}: choose one of {', '.join(VAD_CHOICES)}")
    if kind == "auto":
        kind = "webrtc" if webrtc_available() else "energy"
    if kind == "off":
        return None
    if kind == "energy":
        return EnergyGate(threshold_db)
    return WebRtcGate(sample_rate, threshold_db)

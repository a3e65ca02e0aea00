"""Noise and rooms, mixed as a room mixes them: for measuring robustness and training for it.

A microphone in a room hears the noise all the time, before, under and after the speech, and
the speech through the room's echo. `Room.apply` does that to a clean clip: the clip is
reverberated (a simulated shoebox room, `pyroomacoustics`, only with `rt60`), a second of
silence is added each side (`pad_seconds`), and noise runs through the whole of it, scaled so
that the speech's active level is `snr_db` above the noise's. The speech's level is measured
where the file gate hears speech (sernet_edge.speech), so a clip's leading silence does not
lower it.

Noise kinds: white, pink (1/f: fans, air conditioning), brown (1/f^2: rumble, traffic),
babble (3-7 talkers summed, from other speakers' clips: never the clip's own speaker) and
recorded noise files. The same clip, condition and seed always give the same mix.

    >>> room = Room("pink", snr_db=20, seed=0)
    >>> noisy = room.apply(clean)                 # 16 kHz float32, 2 s longer
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sernet_edge.audio import SAMPLE_RATE
from sernet_edge.errors import SernetError

COLOURS = ("white", "pink", "brown")
KINDS = COLOURS + ("babble",)
PAD_SECONDS = 1.0                 # noise-only time each side of the speech, as in a room
BABBLE_TALKERS = (3, 7)
ROOM_DISTANCE_M = (1.0, 3.0)      # speaker to microphone
ROOM_SIZE_M = ((3.0, 8.0), (3.0, 7.0), (2.4, 3.5))    # living rooms to meeting rooms
RT60_RANGE = (0.1, 2.0)           # what `rt60` accepts, seconds
ROOMS = 16                        # rooms per condition
PEAK = 0.99                       # a mix louder than this is scaled down, SNR kept
LEVEL_FLOOR = 1e-10               # mean power of digital silence


def unit_rms(x: np.ndarray) -> np.ndarray:
    """`x` scaled to an RMS of 1, as float32 (silence stays silence)."""
    x = np.asarray(x, np.float64)
    return (x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)).astype(np.float32)


def coloured_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of white, pink (power 1/f) or brown (1/f^2) noise at unit RMS."""
    if kind not in COLOURS:
        raise SernetError(f"unknown noise colour {kind!r}: choose one of {', '.join(COLOURS)}")
    if n == 0:
        return np.zeros(0, np.float32)
    white = rng.standard_normal(n)
    if kind != "white":
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        f[0] = f[1] if n > 1 else 1.0
        # the amplitude falls as f^-1/2 (pink) or f^-1 (brown); below 20 Hz it stays flat,
        # so the noise has no DC drift a microphone would not pass
        spectrum /= np.maximum(f, 20.0) ** (0.5 if kind == "pink" else 1.0)
        white = np.fft.irfft(spectrum, n)
    return unit_rms(white)


def speech_power(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Mean power of the part of `x` the file gate keeps as speech (all of `x` when the gate
    finds none)."""
    from sernet_edge.speech import SpeechTrack, recording_gate, speech_only
    x = np.asarray(x, np.float32)
    gate, floor = recording_gate(lambda: [x], rate)
    kept = list(speech_only([x], gate, rate, SpeechTrack(rate), floor))
    part = np.concatenate(kept) if kept else x
    return max(float(np.mean(np.square(part, dtype=np.float64))) if len(part) else 0.0,
               LEVEL_FLOOR)


def loop_to(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of `x` from a random start, repeated as often as needed."""
    if len(x) == 0:
        raise SernetError("a noise recording has no samples")
    start = int(rng.integers(0, len(x)))
    reps = int(np.ceil((start + n) / len(x)))
    return np.tile(x, reps)[start:start + n]


def babble(talkers: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """3-7 of `talkers` (clips of speakers other than the one it will be mixed under), each
    at its own speech level, summed over `n` samples; unit RMS."""
    if not talkers:
        raise SernetError("babble needs clips of other speakers than the one it is mixed under")
    k = int(rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1))
    mix = np.zeros(n, np.float64)
    for i in rng.choice(len(talkers), size=k, replace=len(talkers) < k):
        voice = np.asarray(talkers[i], np.float64)
        voice = voice / np.sqrt(max(float(np.mean(voice ** 2)), LEVEL_FLOOR))
        mix += loop_to(voice, n, rng)
    return unit_rms(mix)


def recorded(noises: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of one of the recordings `noises`, from a random start; unit RMS."""
    return unit_rms(loop_to(noises[int(rng.integers(len(noises)))], n, rng))


def room_impulse_response(rt60: float, rng: np.random.Generator,
                          distance_m: tuple[float, float] = ROOM_DISTANCE_M) -> np.ndarray:
    """The impulse response of a random shoebox room with this reverberation time (Sabine's
    formula, `pyroomacoustics`' image sources), the speaker `distance_m` from the microphone;
    normalised so the direct sound has gain 1 and starts at sample 0."""
    if not RT60_RANGE[0] <= rt60 <= RT60_RANGE[1]:
        raise SernetError(f"reverberation time {rt60:g} s: choose {RT60_RANGE[0]:g} to "
                          f"{RT60_RANGE[1]:g} s (a living room is about 0.4-0.6)")
    pra = import_pyroomacoustics()
    dims = np.array([rng.uniform(*r) for r in ROOM_SIZE_M])
    while True:   # a room where the distance fits with 0.5 m to spare from the walls
        mic = np.array([rng.uniform(0.5, d - 0.5) for d in dims[:2]] + [rng.uniform(0.9, 1.5)])
        d = rng.uniform(*distance_m)
        angle = rng.uniform(0, 2 * np.pi)
        src = mic + np.array([d * np.cos(angle), d * np.sin(angle), rng.uniform(0.0, 0.5)])
        if np.all(src[:2] > 0.5) and np.all(src[:2] < dims[:2] - 0.5) and src[2] < dims[2] - 0.3:
            break
        dims = np.array([rng.uniform(*r) for r in ROOM_SIZE_M])
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:
        # this room is too small to ring this long: the longest it can, in the largest room
        dims = np.array([r[1] for r in ROOM_SIZE_M])
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption),
                       max_order=max_order, use_rand_ism=False)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], np.float64)
    peak = int(np.argmax(np.abs(rir)))
    rir = rir[max(0, peak - 40):]          # the fractional-delay filter's lead-in kept
    return (rir / np.abs(rir).max()).astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`x` played in the room: convolved with `rir`, the tail kept (the room rings on)."""
    n = len(x) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[:n]
    return y.astype(np.float32)


@functools.lru_cache(maxsize=8)
def room_bank(rt60: float, seed: int) -> tuple[np.ndarray, ...]:
    """16 rooms of this reverberation time, drawn once per (rt60, seed): one takes up to 2 s
    to simulate, so each clip is played in one of these."""
    rng = np.random.default_rng([seed, 60])
    return tuple(room_impulse_response(rt60, rng) for _ in range(ROOMS))


def import_pyroomacoustics():
    try:
        import pyroomacoustics
    except ImportError:
        raise SernetError("simulated rooms need pyroomacoustics: the [rooms] extra: "
                          "pip install '.[rooms]' in the sernet-edge folder") from None
    return pyroomacoustics


def read_noise_files(paths) -> list[np.ndarray]:
    """Recorded noise, each file mono 16 kHz (a folder: every audio file in it)."""
    from sernet_edge.audio import AUDIO_EXTENSIONS, load_audio
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise SernetError(f"{p}: no audio files in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise SernetError(f"{p}: no such noise file or folder")
    out = []
    for f in files:
        x = load_audio(f, SAMPLE_RATE)
        if not len(x) or not np.any(x):
            raise SernetError(f"{f}: the noise recording is silent")
        out.append(x)
    return out


@dataclass
class Room:
    """One listening condition: noise of `kind` ("white", "pink", "brown", "babble", "files"
    or None for none) at `snr_db` on the speech, and a room with reverberation time `rt60`
    (None: none). `noises`: the recordings for "files"; `talkers(speaker)` gives the babble
    voices for a clip of `speaker` (others than that speaker: a `Talkers`)."""
    kind: str | None = None
    snr_db: float | None = None
    rt60: float | None = None
    seed: int = 0
    pad_seconds: float = PAD_SECONDS
    noises: list[np.ndarray] = field(default_factory=list, repr=False)
    talkers: object = field(default=None, repr=False)

    def __post_init__(self):
        if self.kind is not None and self.kind not in KINDS + ("files",):
            raise SernetError(f"unknown noise {self.kind!r}: choose one of "
                              f"{', '.join(KINDS)} or noise files")
        if (self.kind is None) != (self.snr_db is None):
            raise SernetError("noise and an SNR go together: give both or neither")
        if self.kind == "files" and not self.noises:
            raise SernetError("noise 'files' needs at least one recording")
        self._rooms = room_bank(self.rt60, self.seed) if self.rt60 is not None else ()

    @property
    def name(self) -> str:
        """"clean", "pink 20 dB", "babble 10 dB, RT60 0.6 s"."""
        parts = [f"{self.kind} {self.snr_db:g} dB"] if self.kind else []
        parts += [f"RT60 {self.rt60:g} s"] if self.rt60 is not None else []
        return ", ".join(parts) or "clean"

    def rng(self, x: np.ndarray, key: str = "") -> np.random.Generator:
        # one stream per (condition, clip): the same clip always gets the same noise
        return np.random.default_rng([self.seed, zlib.crc32(key.encode()),
                                      zlib.crc32(np.asarray(x, np.float32).tobytes())])

    def apply(self, x: np.ndarray, key: str = "", speaker: str | None = None) -> np.ndarray:
        """The clip `x` (16 kHz) as this room's microphone hears it. `key` (the clip's name)
        and `x` choose the random draws; babble leaves out `speaker`'s own voice."""
        x = np.asarray(x, np.float32)
        if self.kind is None and self.rt60 is None:
            return x
        rng = self.rng(x, key)
        if self.rt60 is not None:
            x = reverberate(x, self._rooms[int(rng.integers(len(self._rooms)))])
        pad = int(round(self.pad_seconds * SAMPLE_RATE))
        y = np.pad(x, (pad, pad)).astype(np.float64)
        if self.kind is not None:
            noise = self.noise(len(y), rng, speaker)
            gain = np.sqrt(speech_power(x) / 10 ** (self.snr_db / 10))
            y += gain * noise
        peak = float(np.abs(y).max()) if len(y) else 0.0
        if peak > PEAK:
            y *= PEAK / peak
        return y.astype(np.float32)

    def noise(self, n: int, rng: np.random.Generator, speaker: str | None = None) -> np.ndarray:
        """`n` samples of this condition's noise at unit RMS."""
        if self.kind in COLOURS:
            return coloured_noise(self.kind, n, rng)
        if self.kind == "babble":
            if self.talkers is None:
                raise SernetError("babble needs other speakers' clips: give a corpus")
            return babble(self.talkers(speaker), n, rng)
        return recorded(self.noises, n, rng)


class Talkers:
    """Voices for babble: up to `n` clips (path, speaker) spread over the speakers, read once;
    `talkers(speaker)` gives those of every other speaker."""

    def __init__(self, clips: list[tuple[str, str]], n: int = 40, seed: int = 0):
        from sernet_edge.audio import load_audio
        by_speaker: dict[str, list[str]] = {}
        for path, spk in sorted(clips):
            by_speaker.setdefault(spk, []).append(path)
        if len(by_speaker) < 2:
            raise SernetError("babble needs clips of at least two speakers (give other "
                              "speakers' recordings with --babble-from)")
        rng = np.random.default_rng(seed)
        speakers = sorted(by_speaker)
        chosen = []
        for k in range(n):                      # round robin over the speakers
            spk = speakers[k % len(speakers)]
            paths = by_speaker[spk]
            chosen.append((paths[int(rng.integers(len(paths)))], spk))
        self.voices = [(load_audio(p), spk) for p, spk in dict.fromkeys(chosen)]

    def __call__(self, speaker: str | None) -> list[np.ndarray]:
        return [x for x, spk in self.voices if spk != speaker]

"""Find the speech in a recording, and say what the recording costs the answer.

An answer must come from speech. A file's silence, its pauses and noise below the gate are
cut out before windowing: the model never hears them, so padding a clip with silence does not
move its answer, and a file with no speech gets none. The gate is `listen`'s energy gate
(sernet_edge.vad), decided here on 0.1 s frames, with its floor set by the recording's level: 30 dB
below its loudest frame, between -60 and listen's -45 dBFS (quiet recordings such as many of
CREMA-D's peak near -40 dBFS; the model hears every file at one level anyway). Pauses up to
1 s stay in, so words keep their rhythm, and up to 0.3 s each side of speech, where it is
within 15 dB of the floor: onsets and decays, not the near-silence a clip is padded with.

A room adds steady noise (a fan, traffic, hum) above that floor. Where the recording has some
(`steady_noise_db`), each second or more that stays within 6 dB of it is left out as the room,
not speech, and the kept edges stay above it; the speech's level over it is the recording's SNR
(`SpeechTrack.snr_db`, and a `noisy` warning below 20 dB).

Alongside, the speech is checked for what is known to change answers: a recording below
16 kHz, with no energy above 4 kHz (telephone) or little above 7 kHz (low-bitrate MP3), and
clipping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import functools

import numpy as np

FRAME_SECONDS = 0.1
FLOOR_BELOW_PEAK_DB = 30.0
LOWEST_FLOOR_DB = -60.0          # below it nothing is speech: digital silence, dither, hiss
MIN_LEVEL_SPREAD_DB = 3.0        # speech varies more (the steadiest CREMA-D clip: 4.9 dB)
MAX_PAUSE_SECONDS = 1.0          # a pause up to this long stays inside the speech
HANGOVER_SECONDS = 0.3           # kept before and after speech, if within 15 dB of the floor:
HANGOVER_RANGE_DB = 15.0         # a decay, not the near-silence a recording is padded with
NOISE_MARGIN_DB = 6.0            # within this of a room's steady noise is the room (files:
                                 # for a second or more; live: a hop's floor this far over it)
STEADY_RANGE_DB = 3.0            # frames within this of the 10th percentile are its noise...
STEADY_MIN_FRAMES = 5            # ...when 0.5 s of them in a row...
STEADY_SPREAD_DB = 6.0           # ...stay within this of each other
EDGE_OVER_NOISE_DB = 1.5        # kept edges of speech stay this far over the noise
NOISY_SNR_DB = 20.0              # under it most answers differ from the clean recording's: 58-78 %
                                 # of 12,200 noisy clips, 33-44 % above (benchmarks/results/
                                 # noise-robustness-2026-12-07-2)
MIN_SPEECH_SECONDS = 1.5         # listen's shortest speech: on less, answers are mostly wrong
NARROWBAND_HZ = 4000.0
NARROWBAND_DB = -50.0            # energy above 4 kHz this far below the total: none there
# The mel bands reach 7.6 kHz, and an empty top band moves every answer (a 24 kbit/s MP3 or a
# 7 kHz low-pass changes 72-76 % of nEMO's labels). Clean speech of EMO-DB, CREMA-D and nEMO
# keeps at least -45 dB above 7.2 kHz, a 24 kbit/s MP3 of it at most -49.8 dB.
BAND_LIMIT_HZ = 7200.0
BAND_LIMIT_DB = -48.0
BAND_CHECK_SECONDS = 1.0         # of speech, before its band is judged
CLIP_LEVEL = 0.99                # a sample this close to full scale counts as clipped
CLIPPED_FRACTION = 0.001         # of the speech samples
NO_SPEECH = "no speech"


@dataclass
class Segment:
    """A stretch of the recording that was kept: `length` samples from `start`, which are
    samples from `speech_start` of the speech stream."""
    start: int
    speech_start: int
    length: int


@dataclass
class SpeechTrack:
    """What `speech_only` kept and measured, filled while its stream is read."""
    rate: int
    segments: list[Segment] = field(default_factory=list)
    samples: int = 0                  # of the recording
    speech_samples: int = 0
    clipped_samples: int = 0
    noise_db: float | None = None     # the recording's steady noise (recording_levels)
    _speech_energy: float = 0.0
    _band_power: np.ndarray | None = None

    @property
    def duration(self) -> float:
        return self.samples / self.rate

    @property
    def speech_seconds(self) -> float:
        return self.speech_samples / self.rate

    def recording_time(self, speech_sample: int, end: bool = False) -> float:
        """Seconds into the recording of a sample of the speech stream (`end`: of the end of
        a stretch that stops before that sample, so it stays in the segment it ends in)."""
        for seg in reversed(self.segments):
            if speech_sample > seg.speech_start or (speech_sample == seg.speech_start and not end):
                return (seg.start + min(speech_sample - seg.speech_start, seg.length)) / self.rate
        return 0.0

    @property
    def snr_db(self) -> float | None:
        """The speech's level over the recording's steady noise, in dB (rounded to 0.1); None
        without speech or without steady noise to measure (clean recordings, or noise only
        under the speech)."""
        if not self.speech_samples or self.noise_db is None:
            return None
        speech = self._speech_energy / self.speech_samples
        noise = 10 ** (self.noise_db / 10)           # level_dbfs is 20 log10 of the RMS
        return round(float(10 * np.log10(max(speech - noise, 1e-12) / noise)), 1)

    def band_db(self, above_hz: float) -> float | None:
        """The speech's energy above `above_hz` relative to all of it, in dB; None without
        speech."""
        if self._band_power is None or self._band_power.sum() <= 0:
            return None
        freqs = np.fft.rfftfreq(2 * (len(self._band_power) - 1), 1.0 / self.rate)
        high = self._band_power[freqs > above_hz].sum()
        return float(10 * np.log10(max(high, 1e-30) / self._band_power.sum()))

    def _keep(self, start: int, frame: np.ndarray) -> None:
        last = self.segments[-1] if self.segments else None
        if last is not None and last.start + last.length == start:
            last.length += len(frame)
        else:
            self.segments.append(Segment(start, self.speech_samples, len(frame)))
        self.speech_samples += len(frame)
        self._speech_energy += float(np.sum(np.square(frame, dtype=np.float64)))
        self.clipped_samples += int(np.count_nonzero(np.abs(frame) >= CLIP_LEVEL))
        spectrum = np.abs(np.fft.rfft(frame * _hann(len(frame)), n=_frame_size(self.rate))) ** 2
        self._band_power = spectrum if self._band_power is None else self._band_power + spectrum


@dataclass
class Levels:
    """A recording's 0.1 s frame levels, summarised for the gate: `floor` (dBFS; None: steady
    hiss, hum or silence, never speech) and `noise_db`, the level of its steady noise (None
    when it has none long enough to measure)."""
    floor: float | None
    noise_db: float | None


def recording_levels(chunks, rate: int, track_noise: bool = True) -> Levels:
    """The gate's energy floor for a recording: 30 dB below its loudest 0.1 s frame, within
    [-60 dBFS, listen's floor], and the level of its steady noise where it has one
    (`steady_noise_db`; not with `track_noise` False, the rule before noise was measured):
    `speech_only` then leaves out each second or more that stays within 6 dB of it. No floor
    when its level never varies by 3 dB (between its 10th and 95th percentile frame)."""
    from sernet_edge.vad import DEFAULT_ENERGY_DB, level_dbfs
    size = _frame_size(rate)
    levels = [(level_dbfs(f), len(f) == size) for f in _frames(chunks, size)]
    # a short last frame counts only when it is all there is
    levels = np.array([db for db, whole in levels if whole] or [db for db, _ in levels])
    if not len(levels):
        return Levels(None, None)
    low, high = np.percentile(levels, [10, 95])
    noise = steady_noise_db(levels) if track_noise else None
    if high - low < MIN_LEVEL_SPREAD_DB:
        return Levels(None, noise)
    floor = min(DEFAULT_ENERGY_DB, max(LOWEST_FLOOR_DB, levels.max() - FLOOR_BELOW_PEAK_DB))
    return Levels(float(floor), noise)


def steady_noise_db(levels: np.ndarray) -> float | None:
    """The level of a recording's steady noise from its 0.1 s frame levels (dBFS), or None:
    its 10th-percentile frame, when somewhere 0.5 s in a row stays within 3 dB above it and
    6 dB of itself: a room's noise before, between or after the speech. The quiet frames of
    clean speech are decays and breaths, too short or too uneven to count."""
    if len(levels) < STEADY_MIN_FRAMES:
        return None
    noise = float(np.percentile(levels, 10))
    if noise <= LOWEST_FLOOR_DB:
        return None                     # digital silence or dither: no noise to speak of
    quiet = levels <= noise + STEADY_RANGE_DB
    for i in range(len(levels) - STEADY_MIN_FRAMES + 1):
        run = levels[i:i + STEADY_MIN_FRAMES]
        if quiet[i:i + STEADY_MIN_FRAMES].all() and run.max() - run.min() <= STEADY_SPREAD_DB:
            return noise
    return None


def energy_floor(chunks, rate: int) -> float | None:
    """`recording_levels(chunks, rate).floor`."""
    return recording_levels(chunks, rate).floor


def _frame_size(rate: int) -> int:
    return int(round(FRAME_SECONDS * rate))


@functools.lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


def _frames(chunks, size: int):
    """The chunk stream cut into frames of `size` samples; the last one may be shorter."""
    buf = np.zeros(0, np.float32)
    for chunk in chunks:
        buf = np.concatenate([buf, np.asarray(chunk, np.float32)])
        n = len(buf) // size * size
        yield from buf[:n].reshape(-1, size)
        buf = buf[n:]
    if len(buf):
        yield buf


def speech_only(chunks, gate, rate: int, track: SpeechTrack, floor_db: float | None = None):
    """Yield the speech of a chunk stream, as `gate` (None: everything is speech) finds it on
    0.1 s frames, filling `track` as it goes. `floor_db`: the gate's energy floor, below which
    kept edges may reach 15 dB. A frame is decided once the next second is seen, so at most
    that much audio is held."""
    from sernet_edge.vad import level_dbfs

    pause = int(round(MAX_PAUSE_SECONDS / FRAME_SECONDS))
    hang = int(round(HANGOVER_SECONDS / FRAME_SECONDS))
    # edges are kept down to 15 dB under the floor, but never at the room's noise level
    edge_db = -np.inf if floor_db is None else floor_db - HANGOVER_RANGE_DB
    if track.noise_db is not None:
        edge_db = max(edge_db, track.noise_db + EDGE_OVER_NOISE_DB)
    noisy = track.noise_db is not None
    quiet_db = track.noise_db + NOISE_MARGIN_DB if noisy else -np.inf
    ahead: deque = deque()        # (index, start sample, frame, level, is speech), undecided
    last_speech = None            # index of the newest speech frame already decided
    quiet_before = 0              # quiet frames in a row just before the one being decided

    def noise_only(level) -> bool:
        # a second or more within 6 dB of the room's noise is the room, not quiet speech
        nonlocal quiet_before
        if level > quiet_db:
            quiet_before = 0
            return False
        run = quiet_before + 1
        for a in ahead:
            if a[3] > quiet_db:
                break
            run += 1
        quiet_before += 1
        return run >= pause

    def decide(index, level, speech) -> bool:
        nonlocal last_speech
        room = noisy and noise_only(level)
        if speech and not room:
            last_speech = index
            return True
        after = next((a[0] for a in ahead if a[4] and a[3] > quiet_db), None)  # within 1 s
        if (not room and last_speech is not None and after is not None
                and after - last_speech - 1 <= pause):
            return True
        near = ((last_speech is not None and index - last_speech <= hang)
                or (after is not None and after - index <= hang))
        return near and level >= edge_db

    def release(n_left: int):
        while len(ahead) > n_left:
            index, start, frame, level, speech = ahead.popleft()
            if decide(index, level, speech):
                track._keep(start, frame)
                yield frame

    for index, frame in enumerate(_frames(chunks, _frame_size(rate))):
        level = level_dbfs(frame)
        speech = gate is None or bool(gate.is_speech(frame, level))
        ahead.append((index, track.samples, frame, level, speech))
        track.samples += len(frame)
        yield from release(pause)
    yield from release(0)


def warnings_for(track: SpeechTrack, recorded_rate: int | None) -> list[dict]:
    """What the recording costs the answer: a list of {"code", "message"}, empty if nothing."""
    out = []
    if 0 < track.speech_seconds < MIN_SPEECH_SECONDS:
        out.append({"code": "short", "message": f"only {track.speech_seconds:.1f} s of speech; "
                    f"answers on under {MIN_SPEECH_SECONDS:g} s are mostly wrong"})
    if recorded_rate is not None and recorded_rate < 16000:
        out.append({"code": "low_rate", "message": f"recorded at {recorded_rate} Hz; the model "
                    "learnt 16 kHz speech and answers narrowband audio less well"})
    elif track.speech_seconds < BAND_CHECK_SECONDS:
        pass    # a syllable or two says little about the recording's band
    elif (track.band_db(NARROWBAND_HZ) or 0.0) < NARROWBAND_DB:
        out.append({"code": "narrowband", "message": "no energy above 4 kHz (telephone or "
                    "low-bitrate audio); the model answers such audio less well"})
    elif (track.band_db(BAND_LIMIT_HZ) or 0.0) < BAND_LIMIT_DB:
        out.append({"code": "band_limited", "message": "little or nothing above 7 kHz "
                    "(low-bitrate MP3 or a band-limited recording chain); such audio changes "
                    "most of the model's answers"})
    if track.snr_db is not None and track.snr_db < NOISY_SNR_DB:
        out.append({"code": "noisy", "message": f"noisy: the speech is {track.snr_db:g} dB over "
                    f"the noise; below {NOISY_SNR_DB:g} dB most answers change"})
    if track.speech_samples and track.clipped_samples >= CLIPPED_FRACTION * track.speech_samples:
        share = 100 * track.clipped_samples / track.speech_samples
        out.append({"code": "clipped", "message": f"clipped: {share:.1f} % of the speech samples "
                    "are at full scale"})
    return out


def recording_gate(chunks, rate: int, vad: str = "auto", track: SpeechTrack | None = None,
                   track_noise: bool = True):
    """(gate, its energy floor) set by this recording's level (`chunks()` gives its chunk
    stream); (None, None) with vad off. `track` gets the recording's steady noise level
    (`track_noise` False: the gate before noise was measured, for comparisons; none with vad
    off, so no SNR either)."""
    from sernet_edge.vad import make_gate
    if vad == "off":
        return None, None           # every sample is speech: no noise is left out either
    levels = recording_levels(chunks(), rate, track_noise)
    if track is not None:
        track.noise_db = levels.noise_db
    floor = levels.floor
    if floor is None:
        return NOTHING_IS_SPEECH, None
    return make_gate(vad, rate, floor), floor


class _NoSpeech:
    def is_speech(self, hop, level_db) -> bool:
        return False


NOTHING_IS_SPEECH = _NoSpeech()

"""The streaming pipeline: one window of audio in a ring, a decision every hop.

Audio arrives in chunks of any size. Every `hop` samples the newest hop is measured (level,
voice-activity gate); a gated hop yields a "silence" event without inference, any other hop
classifies the newest window, cut to the speech since the last silent hop (`extract`
centre-pads a short window as training padded short clips) and averages the last `smooth`
probability vectors. Until `min_speech` seconds of speech have arrived a hop says "listening"
without inference: answers on half a second of speech are mostly wrong. Silence clears the
history so one utterance's answer does not leak into the next. At the end of a recording the
last, shorter hop is decided too (`flush`), so the events cover all of it. Nothing grows while
streaming: the ring, the hop buffer and the history are fixed-size.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from sernet_edge.audio import require_finite
from sernet_edge.speech import MIN_SPEECH_SECONDS
from sernet_edge.vad import LEVEL_FLOOR_DB, level_dbfs  # noqa: F401 - part of this module's API

DEFAULT_HOP_SECONDS = 0.5
DEFAULT_SMOOTH = 3
DEFAULT_THRESHOLD = 0.5
# experiments/live-min-speech: hop accuracy 40% -> 65%; files flag less speech than this too
DEFAULT_MIN_SPEECH_SECONDS = MIN_SPEECH_SECONDS
SILENCE = "silence"
UNCERTAIN = "uncertain"
LISTENING = "listening"      # speech, but not yet `min_speech` seconds of it
TIME_DECIMALS = 6            # stream timestamps are multiples of the hop; keep them exact in JSON


class Ring:
    """The newest `size` samples in one preallocated float32 array."""

    def __init__(self, size: int):
        if size <= 0:
            raise ValueError(f"ring size must be positive, got {size}")
        self.buf = np.zeros(size, np.float32)
        self.pos = 0          # where the next sample goes
        self.filled = 0       # valid samples (< size only before the first wrap)

    def push(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).ravel()
        size, n = len(self.buf), len(x)
        if n >= size:
            self.buf[:] = x[-size:]
            self.pos, self.filled = 0, size
            return
        end = self.pos + n
        if end <= size:
            self.buf[self.pos:end] = x
        else:
            k = size - self.pos
            self.buf[self.pos:] = x[:k]
            self.buf[:n - k] = x[k:]
        self.pos = end % size
        self.filled = min(size, self.filled + n)

    def window(self) -> np.ndarray:
        """A copy of the valid samples, oldest first."""
        if self.filled < len(self.buf):  # never wrapped: the data is buf[:pos]
            return self.buf[:self.filled].copy()
        return np.concatenate([self.buf[self.pos:], self.buf[:self.pos]])


class Smoother:
    """Mean of the last `n` probability vectors."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"smoothing needs at least 1 window, got {n}")
        self.history: deque[np.ndarray] = deque(maxlen=n)

    def add(self, p: np.ndarray) -> np.ndarray:
        self.history.append(np.asarray(p, np.float32))
        return np.mean(np.stack(self.history), axis=0)

    def reset(self) -> None:
        self.history.clear()


@dataclass
class Event:
    """The decision for one hop. `timestamp` is the end of the hop in stream seconds."""

    timestamp: float
    wall_time: float
    label: str                               # an emotion, "uncertain", "listening" or "silence"
    confidence: float | None                 # smoothed top probability; None without inference
    probabilities: dict[str, float] | None   # smoothed; None without inference
    level_dbfs: float
    gated: bool
    overflows: int = 0                       # input overflows so far (set by `run`)
    noise_dbfs: float | None = None          # the stream's steady noise, when the gate knows it

    @property
    def snr_db(self) -> float | None:
        """The speech hop over the stream's noise, in dB; None for a gated hop or when the
        noise is not known."""
        if self.noise_dbfs is None or self.gated:
            return None
        over = 10 ** (self.level_dbfs / 10) - 10 ** (self.noise_dbfs / 10)
        return round(float(10 * np.log10(max(over, 1e-12) / 10 ** (self.noise_dbfs / 10))), 1)

    @property
    def noisy(self) -> bool:
        """An answer on speech that is too close to the noise to trust."""
        from sernet_edge.speech import NOISY_SNR_DB
        return self.probabilities is not None and self.snr_db is not None \
            and self.snr_db < NOISY_SNR_DB

    def to_dict(self) -> dict:
        return {"timestamp": self.timestamp, "wall_time": round(self.wall_time, 3),
                "label": self.label, "confidence": self.confidence,
                "probabilities": self.probabilities, "level_dbfs": round(self.level_dbfs, 2),
                "noise_dbfs": None if self.noise_dbfs is None else round(self.noise_dbfs, 2),
                "snr_db": self.snr_db, "noisy": self.noisy,
                "gated": self.gated, "overflows": self.overflows}


class Pipeline:
    """Feed chunks of audio at the classifier's sample rate; get one Event per completed hop.

    `classifier` needs `.features` (sample_rate, num_samples), `.labels` and
    `.predict_window(samples) -> probabilities` (sernet_edge.runtime.EmotionClassifier).
    `gate` has `.is_speech(hop_samples, level_dbfs) -> bool`; None classifies every hop."""

    def __init__(self, classifier, hop_seconds: float = DEFAULT_HOP_SECONDS,
                 smooth: int = DEFAULT_SMOOTH, threshold: float = DEFAULT_THRESHOLD,
                 gate=None, wall_clock=time.time, min_speech: float = DEFAULT_MIN_SPEECH_SECONDS):
        cfg = classifier.features
        self.classifier = classifier
        self.labels = list(classifier.labels)
        self.rate = int(cfg.sample_rate)
        self.hop = int(round(hop_seconds * self.rate))
        if self.hop <= 0 or self.hop > cfg.num_samples:
            raise ValueError(f"hop must be between 1/{self.rate} s and the model window "
                             f"({cfg.seconds:g} s), got {hop_seconds:g} s")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold:g}")
        if not 0.0 <= min_speech <= cfg.seconds:
            raise ValueError(f"min_speech must be between 0 and the model window "
                             f"({cfg.seconds:g} s), got {min_speech:g} s")
        self.threshold = threshold
        self.min_speech_samples = int(round(min_speech * self.rate))
        self.gate = gate
        self.ring = Ring(cfg.num_samples)
        self.smoother = Smoother(smooth)
        self.wall_clock = wall_clock
        self._pending = np.zeros(self.hop, np.float32)
        self._fill = 0
        self._voiced = 0      # samples in the consecutive hops the gate let through
        self._decided = 0     # samples up to the end of the last decided hop
        self.hops = 0         # decisions made (the last one may be a shorter, flushed hop)

    @property
    def hop_seconds(self) -> float:
        return self.hop / self.rate

    @property
    def samples(self) -> int:
        """Samples consumed so far, including an incomplete hop."""
        return self._decided + self._fill

    def feed(self, chunk: np.ndarray) -> list[Event]:
        x = require_finite(np.asarray(chunk, np.float32).ravel(), "live audio")
        events, i = [], 0
        while i < len(x):
            take = min(self.hop - self._fill, len(x) - i)
            self._pending[self._fill:self._fill + take] = x[i:i + take]
            self._fill += take
            i += take
            if self._fill == self.hop:
                events.append(self._step(self._pending))
                self._fill = 0
        return events

    def flush(self) -> Event | None:
        """The decision on the incomplete last hop, at the end of the input (a 9.33 s
        recording with 0.5 s hops: 18 hops, then this one for the last 0.33 s); None when
        there is none. Feeding may go on afterwards: the next hop starts after it."""
        if self._fill == 0:
            return None
        tail, self._fill = self._pending[:self._fill].copy(), 0
        return self._step(tail)

    def _step(self, hop: np.ndarray) -> Event:
        self.ring.push(hop)
        self.hops += 1
        self._decided += len(hop)
        t = round(self._decided / self.rate, TIME_DECIMALS)
        level = level_dbfs(hop)
        speech = self.gate is None or self.gate.is_speech(hop, level)
        noise = getattr(self.gate, "noise_db", None)
        if not speech:
            self.smoother.reset()
            self._voiced = 0
            return Event(t, self.wall_clock(), SILENCE, None, None, level, True, noise_dbfs=noise)
        self._voiced = min(self._voiced + len(hop), len(self.ring.buf))
        if self._voiced < self.min_speech_samples:
            return Event(t, self.wall_clock(), LISTENING, None, None, level, False, noise_dbfs=noise)
        # only the speech since the last silent hop: `extract` then centre-pads it with zeros,
        # as training padded short utterances, instead of showing the model background noise
        window = self.ring.window()[-self._voiced:]
        mean = self.smoother.add(self.classifier.predict_window(window))
        top = int(np.argmax(mean))
        confidence = float(mean[top])
        label = self.labels[top] if confidence >= self.threshold else UNCERTAIN
        probs = {lab: float(v) for lab, v in zip(self.labels, mean)}
        return Event(t, self.wall_clock(), label, confidence, probs, level, False, noise_dbfs=noise)


@dataclass
class Summary:
    duration: float                  # seconds of audio listened to, a last partial hop included
    wall_seconds: float
    hops: int                        # events emitted, the last partial hop's included
    counts: Counter = field(default_factory=Counter)
    overflows: int = 0
    stopped: str = "end of input"    # "end of input", "duration" or "interrupted"

    def to_dict(self) -> dict:
        return {"duration": self.duration, "wall_seconds": round(self.wall_seconds, 3),
                "hops": self.hops, "counts": dict(self.counts), "overflows": self.overflows,
                "stopped": self.stopped}


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C or SIGTERM arriving inside the block reaches its handler when the block ends:
    an event is printed and counted, or neither. Main thread only (where handlers run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held, previous = [], {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler
            signal.signal(sig, lambda s, frame: held.append((s, frame)))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig, frame in held[:1]:
            previous[sig](sig, frame)


def run(source, pipeline: Pipeline, emit, duration: float | None = None) -> Summary:
    """Pump `source` (iterable of chunks with `.overflows` and `.close()`) through `pipeline`,
    calling `emit(event)` per hop, until the source ends, `duration` stream seconds are
    decided, or Ctrl-C. The source is always closed. The summary counts the events emitted:
    Ctrl-C can land between a decision and its emit, or between an emit and its count, and
    the summary must match the output."""
    limit = None if duration is None else int(duration * pipeline.rate) // pipeline.hop
    counts: Counter = Counter()
    stopped = "end of input"
    start = time.monotonic()

    def deliver(event):
        event.overflows = source.overflows
        with _signals_held():
            emit(event)
            counts[event.label] += 1

    try:
        if limit == 0:
            stopped = "duration"
        else:
            for chunk in source:
                if limit is not None:
                    chunk = chunk[:limit * pipeline.hop - pipeline.samples]
                for event in pipeline.feed(chunk):
                    deliver(event)
                if limit is not None and pipeline.hops >= limit:
                    stopped = "duration"
                    break
            else:   # the recording ended: decide on its last, shorter hop too
                event = pipeline.flush()
                if event is not None:
                    deliver(event)
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        source.close()
    return Summary(duration=round(pipeline.samples / pipeline.rate, TIME_DECIMALS),
                   wall_seconds=time.monotonic() - start, hops=sum(counts.values()), counts=counts,
                   overflows=source.overflows, stopped=stopped)

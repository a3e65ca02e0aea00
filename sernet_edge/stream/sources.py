"""Audio sources for the pipeline: a microphone (PortAudio through sounddevice) or a replayed
recording. A source is an iterable of mono float32 chunks at the model's sample rate with an
`overflows` count and `close()`.

The microphone callback runs on PortAudio's thread and only copies the block into a bounded
queue: inference happens on the consuming thread, so a slow window never stalls capture. When
the consumer falls behind, the queue fills and blocks are dropped and counted, not fatal.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from sernet_edge.audio import SAMPLE_RATE, audio_info, require_finite, stream_audio
from sernet_edge.errors import SernetError

BLOCK_SECONDS = 0.1          # audio per callback / per replayed chunk
QUEUE_SECONDS = 5.0          # audio held between callback and consumer before dropping
STALL_SECONDS = 5.0          # no audio for this long: the device is gone
POLL_SECONDS = 0.25
MAX_CHANNELS = 2             # opened channels, downmixed; 2 suits stereo-only hardware
LIST_HINT = "list devices with `sernet-edge listen --list-devices`"


class MicrophoneError(SernetError):
    """The microphone cannot be used: missing library, no device, device lost."""


class PortAudioMissing(MicrophoneError):
    pass


class NoInputDevice(MicrophoneError):
    pass


class DeviceLost(MicrophoneError):
    pass


def import_sounddevice():
    """sounddevice, or a one-line error saying what to install."""
    try:
        import sounddevice
    except OSError as e:  # the wheel is there, the PortAudio shared library is not
        raise PortAudioMissing(f"the PortAudio library is missing ({e}): "
                               "sudo apt install libportaudio2") from None
    except ImportError:
        from sernet_edge.extras import message
        raise MicrophoneError(message("sounddevice")) from None
    return sounddevice


def input_devices(sd) -> list[dict]:
    """Every device with input channels, as dicts with an added 'index' and 'hostapi_name'."""
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
    except sd.PortAudioError as e:
        raise NoInputDevice(f"no audio input device: PortAudio cannot list devices ({e}); "
                            f"{LIST_HINT}") from None
    found = []
    for i, d in enumerate(devices):
        if d.get("max_input_channels", 0) > 0:
            api = apis[d["hostapi"]]["name"] if 0 <= d.get("hostapi", -1) < len(apis) else "?"
            found.append({**d, "index": i, "hostapi_name": api})
    return found


def default_input_index(sd) -> int | None:
    try:
        return int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, KeyError, TypeError, ValueError):
        return None


def find_input_device(sd, spec: str | int | None) -> dict:
    """The device for --device: None = the default input, a number = that index, text = the one
    input device whose name contains it (case-insensitive; an exact name wins)."""
    devices = input_devices(sd)
    if not devices:
        raise NoInputDevice(f"no audio input device found; {LIST_HINT}")
    if spec is None or str(spec).strip() == "":
        index = default_input_index(sd)
        return next((d for d in devices if d["index"] == index), devices[0])
    text = str(spec).strip()
    if text.isdigit():
        match = [d for d in devices if d["index"] == int(text)]
        if not match:
            raise NoInputDevice(f"device {text} is not an input device; {LIST_HINT}")
        return match[0]
    exact = [d for d in devices if d["name"].lower() == text.lower()]
    match = exact or [d for d in devices if text.lower() in d["name"].lower()]
    if not match:
        raise NoInputDevice(f"no input device matches {text!r}; {LIST_HINT}")
    if len(match) > 1:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in match)
        raise NoInputDevice(f"{text!r} matches several input devices ({names}); give the index")
    return match[0]


def describe_devices(sd) -> str:
    """The --list-devices table; '*' marks the default input."""
    devices = input_devices(sd)
    if not devices:
        raise NoInputDevice("no audio input device found (is a microphone connected? "
                            "`arecord -l` lists the sound cards ALSA sees)")
    default = default_input_index(sd)
    lines = [f"   {'idx':>3}  {'name':<40} {'api':<10} {'ch':>3} {'rate':>7}"]
    for d in devices:
        mark = "*" if d["index"] == default else " "
        lines.append(f" {mark} {d['index']:>3}  {d['name'][:40]:<40} {d['hostapi_name'][:10]:<10} "
                     f"{d['max_input_channels']:>3} {int(d['default_samplerate']):>7}")
    return "\n".join(lines) + "\n"


class MicrophoneSource:
    """Live input from a PortAudio device at its native rate, downmixed and resampled."""

    def __init__(self, device: str | int | None = None, sample_rate: int = SAMPLE_RATE,
                 block_seconds: float = BLOCK_SECONDS, queue_seconds: float = QUEUE_SECONDS,
                 stall_seconds: float = STALL_SECONDS, sd=None):
        self.sd = sd if sd is not None else import_sounddevice()
        self.device = find_input_device(self.sd, device)
        self.name = self.device["name"]
        self.native_rate = int(round(self.device["default_samplerate"]))
        self.channels = min(MAX_CHANNELS, int(self.device["max_input_channels"]))
        self.sample_rate = sample_rate
        self.blocksize = max(1, int(self.native_rate * block_seconds))
        self.stall_seconds = stall_seconds
        self.overflows = 0
        self.frames_received = 0
        slots = max(2, int(round(queue_seconds / block_seconds)))
        self._queue: queue.Queue = queue.Queue(maxsize=slots)
        self._finished = threading.Event()
        self._stream = None

    # ---- PortAudio's thread: copy and go ----

    def _callback(self, indata, frames, time_info, status) -> None:
        if status and status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self.overflows += 1

    def _on_finished(self) -> None:
        self._finished.set()

    # ---- the consumer ----

    def open(self) -> None:
        try:
            self._stream = self.sd.InputStream(
                device=self.device["index"], samplerate=self.native_rate, channels=self.channels,
                dtype="float32", blocksize=self.blocksize, latency="high",
                callback=self._callback, finished_callback=self._on_finished)
            self._stream.start()
        except self.sd.PortAudioError as e:
            self.close()
            raise MicrophoneError(f"cannot open input device {self.name!r} at "
                                  f"{self.native_rate} Hz ({e}); {LIST_HINT}") from None

    def __iter__(self):
        if self._stream is None:
            self.open()
        resampler = None
        if self.native_rate != self.sample_rate:
            import soxr
            resampler = soxr.ResampleStream(self.native_rate, self.sample_rate, 1,
                                            dtype="float32", quality="HQ")
        last = time.monotonic()
        while True:
            try:
                block = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self._finished.is_set():
                    raise DeviceLost(f"input device {self.name!r} stopped "
                                     "(unplugged or failed)") from None
                if time.monotonic() - last > self.stall_seconds:
                    raise DeviceLost(f"input device {self.name!r} delivered no audio for "
                                     f"{self.stall_seconds:g} s (unplugged?)") from None
                continue
            last = time.monotonic()
            self.frames_received += len(block)
            mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block
            name = f"input device {self.name!r}"
            out = require_finite(mono, name)
            if resampler is not None:
                out = require_finite(resampler.resample_chunk(mono), name, self.native_rate)
            if len(out):
                yield np.clip(out, -1.0, 1.0)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except self.sd.PortAudioError:
                pass  # already gone with the device


class ReplaySource:
    """Chunks of audio at the target rate, replayed in real time (sleeping to the audio
    clock, as a microphone would deliver them) or as fast as the pipeline takes them."""

    overflows = 0

    def __init__(self, chunks, sample_rate: int = SAMPLE_RATE, realtime: bool = False,
                 block_seconds: float = BLOCK_SECONDS, name: str = "audio",
                 clock=time.monotonic, sleep=time.sleep):
        self._chunks = chunks
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.block = max(1, int(sample_rate * block_seconds))
        self.name = name
        self._clock, self._sleep = clock, sleep
        self._iter = None

    def __iter__(self):
        self._iter = self._generate()
        return self._iter

    def _generate(self):
        start, sent = self._clock(), 0
        for chunk in self._chunks:
            chunk = np.asarray(chunk, np.float32)
            for i in range(0, len(chunk), self.block):
                piece = chunk[i:i + self.block]
                sent += len(piece)
                if self.realtime:
                    wait = start + sent / self.sample_rate - self._clock()
                    if wait > 0:
                        self._sleep(wait)
                yield piece

    def close(self) -> None:
        if self._iter is not None:
            self._iter.close()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def file_source(path, sample_rate: int = SAMPLE_RATE, realtime: bool = False,
                block_seconds: float = BLOCK_SECONDS) -> ReplaySource:
    """A recording through the same pipeline; the file is checked now, decoded lazily."""
    audio_info(path)  # one-line AudioError now for a missing or unreadable file
    return ReplaySource(stream_audio(path, sample_rate), sample_rate, realtime, block_seconds,
                        name=str(path))

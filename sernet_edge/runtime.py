"""EmotionClassifier: a model card, the LiteRT interpreter, and windows over audio of any length.

    >>> from sernet_edge.runtime import EmotionClassifier
    >>> clf = EmotionClassifier()                  # the bundled int8 multi-corpus model
    >>> clf.classify_file("speech.wav").label
    'anger'

The answer comes from speech only: silence, pauses and noise below the voice-activity gate are
cut out first (sernet_edge.speech), a recording with no speech answers "no speech", and each
result says how many seconds of speech it was decided on and what the recording costs it
(`warnings`). Per window the cost is one MFCC (numpy, matrices cached per feature config) and
one invoke.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from sernet_edge.audio import SAMPLE_RATE, audio_info, stream_audio, to_mono_16k
from sernet_edge.card import feature_config, read_card
from sernet_edge.errors import ModelError
from sernet_edge.features import extract
from sernet_edge.interpreter import from_output, make_interpreter, to_input
from sernet_edge.speech import (NO_SPEECH, SpeechTrack, recording_gate, speech_only,
                                warnings_for)
from sernet_edge.tflite_file import read_model, weights_sha256

# CREMA-D + EMO-DB, 6 classes: far better than the EMO-DB model on voices of a corpus it never
# heard (docs/results.md); `-m emodb` keeps the 7-class German model
DEFAULT_MODEL = "light-sernet-multi-3s-int8.tflite"
DEFAULT_HOP_SECONDS = 1.0
# short names for the bundled models: `-m emodb`, `-m multi-float16`
BUNDLED = {"emodb": "light-sernet-emodb-3s-int8.tflite",
           "emodb-float16": "light-sernet-emodb-3s-float16.tflite",
           "multi": "light-sernet-multi-3s-int8.tflite",
           "multi-float16": "light-sernet-multi-3s-float16.tflite",
           # the same int8 weights with average pools: the smallest TFLite Micro arena
           "multi-micro": "light-sernet-multi-3s-int8-micro.tflite",
           # the multi recipe at half the width: real time on a 168 MHz Cortex-M4
           "multi-s": "light-sernet-multi-s-3s-int8.tflite",
           "multi-s-float16": "light-sernet-multi-s-3s-float16.tflite",
           "multi-s-micro": "light-sernet-multi-s-3s-int8-micro.tflite",
           # the multi recipe at a quarter of the width: for 256 KB microcontrollers
           "multi-xs": "light-sernet-multi-xs-3s-int8.tflite",
           "multi-xs-float16": "light-sernet-multi-xs-3s-float16.tflite",
           "multi-xs-micro": "light-sernet-multi-xs-3s-int8-micro.tflite"}


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    return Path(str(resources.files("sernet_edge.models").joinpath(name)))


def bundled_models() -> dict[str, Path]:
    """Short name -> file, for the bundled models that are installed."""
    paths = {short: bundled_model_path(file) for short, file in BUNDLED.items()}
    return {short: p for short, p in paths.items() if p.is_file()}


def resolve_model(model: str | os.PathLike | None) -> Path:
    """A model file: the default bundled model, a path, or a bundled model's short name."""
    if model is None:
        return bundled_model_path()
    path = Path(model)
    if path.is_file():
        return path
    bundled = bundled_models()
    if str(model) in bundled:
        return bundled[str(model)]
    for p in bundled.values():          # a bundled model's file name or stem also works
        if str(model) in (p.name, p.stem):
            return p
    if str(model) in BUNDLED or (path.suffix != ".tflite" and len(path.parts) == 1):
        names = ", ".join(bundled) or "none installed"
        raise ModelError(f"{model}: no such model file or bundled model (bundled: {names})")
    raise ModelError(f"{path}: no such model file")


def bundled_clips() -> list[Path]:
    folder = Path(str(resources.files("sernet_edge").joinpath("clips")))
    return sorted(folder.glob("*.wav"))


@dataclass
class Window:
    start: float                       # seconds
    end: float
    label: str
    confidence: float
    probabilities: dict[str, float]


@dataclass
class Result:
    label: str                         # argmax of the mean probabilities, or "no speech"
    confidence: float | None           # None for "no speech"
    probabilities: dict[str, float] | None
    duration: float                    # seconds of audio
    windows: list[Window] = field(default_factory=list)
    speech_seconds: float = 0.0        # what the answer was decided on
    warnings: list[dict] = field(default_factory=list)   # {"code", "message"}: speech.py
    snr_db: float | None = None        # the speech over the recording's steady noise

    @property
    def has_speech(self) -> bool:
        return self.label != NO_SPEECH

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": self.confidence,
                "probabilities": self.probabilities, "duration": self.duration,
                "speech_seconds": self.speech_seconds, "snr_db": self.snr_db,
                "warnings": self.warnings,
                "windows": [vars(w) for w in self.windows]}


class EmotionClassifier:
    """`vad`: the voice-activity gate that finds the speech: "energy" (what "auto" means),
    "webrtc" (WebRTC VAD over the energy floor: on files it cuts quiet speech,
    experiments/speech-gate-for-files), "off" (every sample, silence included)."""

    def __init__(self, model: str | os.PathLike | None = None, num_threads: int | None = None,
                 hop_seconds: float = DEFAULT_HOP_SECONDS, vad: str = "auto"):
        path = resolve_model(model)
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        data = path.read_bytes()
        self.path = path
        self.card = read_card(path, data)
        _check_weights(self.card, data, path)
        self.features = feature_config(self.card)
        self.labels: list[str] = list(self.card["labels"])
        self.interpreter = make_interpreter(data, num_threads, str(path))
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        _check_tensors(self.card, self._input, self._output, path)
        if hop_seconds <= 0:
            raise ModelError(f"hop must be positive, got {hop_seconds}")
        self.hop_seconds = hop_seconds
        from sernet_edge.vad import make_gate
        self.vad = vad
        make_gate(self.vad, self.features.sample_rate)   # an unknown or missing gate fails here

    # ---- one window ----

    def predict_features(self, feats: np.ndarray) -> np.ndarray:
        """Probabilities for one MFCC image (frames, n_mfcc)."""
        self.interpreter.set_tensor(self._input["index"], to_input(feats, self._input))
        self.interpreter.invoke()
        return from_output(self.interpreter.get_tensor(self._output["index"])[0], self._output)

    def predict_window(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities for one window of 16 kHz samples (cropped/padded as in training)."""
        return self.predict_features(extract(samples, self.features))

    # ---- whole recordings ----

    def classify_array(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
                       recorded_rate: int | None = None) -> Result:
        """`recorded_rate`: the rate the audio was recorded at, if it was resampled since."""
        x = to_mono_16k(np.asarray(samples), sample_rate, name="array")
        return self._classify_chunks(lambda: [x], recorded_rate or sample_rate)

    def classify_file(self, path: str | os.PathLike) -> Result:
        recorded_rate = audio_info(path)[1]
        return self._classify_chunks(lambda: stream_audio(path, self.features.sample_rate),
                                     recorded_rate)

    def _classify_chunks(self, chunks, recorded_rate: int | None = None) -> Result:
        """`chunks()` gives the recording's chunk stream; it is read twice (its level, then
        its speech), so an hour-long file still needs only about a window of memory."""
        rate = self.features.sample_rate
        track = SpeechTrack(rate)
        windows, probs = [], []
        gate, floor = recording_gate(chunks, rate, self.vad, track)
        for start, samples in iter_windows(speech_only(chunks(), gate, rate, track, floor),
                                           self.features.num_samples,
                                           int(round(self.hop_seconds * rate))):
            probs.append(self.predict_window(samples))
            windows.append(self._window(track.recording_time(start),
                                        track.recording_time(start + len(samples), end=True),
                                        probs[-1]))
        duration = round(track.duration, 4)
        speech = round(track.speech_seconds, 4)
        warnings = warnings_for(track, recorded_rate)
        if not probs:
            return Result(NO_SPEECH, None, None, duration, [], speech, warnings, track.snr_db)
        mean = np.mean(probs, axis=0)
        top = int(np.argmax(mean))
        return Result(self.labels[top], float(mean[top]), self._probs(mean), duration, windows,
                      speech, warnings, track.snr_db)

    def _window(self, start, end, p) -> Window:
        top = int(np.argmax(p))
        return Window(round(start, 4), round(end, 4), self.labels[top], float(p[top]), self._probs(p))

    def _probs(self, p) -> dict[str, float]:
        return {lab: float(v) for lab, v in zip(self.labels, p)}


def iter_windows(chunks, window: int, hop: int):
    """(start sample, samples) windows of `window` samples every `hop` over a chunk stream.

    Audio shorter than one window is one (short) window, padded later by `extract` exactly as
    training padded it. A tail not covered by the hop grid gets a last window aligned to the
    end. Only about one window of audio is held at a time."""
    buf = np.zeros(0, np.float32)
    offset = 0            # absolute index of buf[0]
    next_start = 0
    last_end = 0
    for chunk in chunks:
        buf = np.concatenate([buf, np.asarray(chunk, np.float32)])
        while next_start + window <= offset + len(buf):
            i = next_start - offset
            yield next_start, buf[i:i + window]
            last_end = next_start + window
            next_start += hop
        drop = min(next_start - offset, len(buf))
        # keep enough for a possible end-aligned tail window
        drop = max(0, min(drop, len(buf) - window))
        buf, offset = buf[drop:], offset + drop
    end = offset + len(buf)
    if end == 0:
        return
    if last_end == 0:
        yield 0, buf[-end:] if end <= len(buf) else buf
    elif last_end < end:
        yield end - window, buf[len(buf) - window:]


def _check_weights(card: dict, data: bytes, path: Path) -> None:
    """Refuse a file whose weights are not the ones the card was written for (damage, mixing)."""
    expected = card.get("weights_sha256")
    if expected and weights_sha256(read_model(data, str(path))) != expected:
        raise ModelError(f"{path}: weights do not match the model card (damaged or altered file)")


def _check_tensors(card: dict, inp: dict, out: dict, path: Path) -> None:
    want = [1, *feature_config(card).input_shape]
    if list(inp["shape"]) != want:
        raise ModelError(f"{path}: model input shape {list(inp['shape'])} does not match the "
                         f"card's features {want}")
    n_out = int(np.prod(out["shape"]))
    if n_out != len(card["labels"]):
        raise ModelError(f"{path}: model has {n_out} outputs but the card lists "
                         f"{len(card['labels'])} labels")
    for name, tensor in (("input", inp), ("output", out)):
        spec = card.get(name, {})
        if "dtype" in spec and np.dtype(spec["dtype"]) != np.dtype(tensor["dtype"]):
            raise ModelError(f"{path}: {name} tensor is {np.dtype(tensor['dtype']).name}, "
                             f"the card says {spec['dtype']}")
        if "scale" in spec and spec["scale"]:
            scale, zero = tensor["quantization"]
            if not np.isclose(scale, spec["scale"], rtol=1e-6) or zero != spec.get("zero_point", 0):
                raise ModelError(f"{path}: {name} quantisation ({scale}, {zero}) does not match "
                                 f"the card ({spec['scale']}, {spec.get('zero_point')})")

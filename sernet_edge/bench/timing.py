"""Measured costs of .tflite models on this machine, and the whole benchmark run.

Every model is counted and measured at each window length asked for (default 3 s and 7 s):
the network is fully convolutional, so the interpreter's input is resized (and, for TFLite
Micro, which cannot resize, the tensor shapes in a copy of the file are rewritten).
Per model and length: the MFCC front end (`features.extract`, numpy, independent of interpreter threads),
`invoke` alone, and end to end (read the file -> features -> quantise -> invoke -> dequantise),
each for every thread count: warm-up runs, then median, p90 and min over the timed runs; the
real-time factor is the end-to-end median over the seconds of audio one window covers. Then
the peak resident memory of a separate process that loads the model and classifies one clip,
and, for integer-only models, the arena TFLite Micro allocates (`tflite-micro`, optional).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sernet_edge.bench import read_model_file, runtime_version
from sernet_edge.errors import ModelError
from sernet_edge.features import FeatureConfig, extract, num_frames
from sernet_edge.tflite_file import with_tensor_shapes

DEFAULT_THREADS = (1, 2)
DEFAULT_SECONDS = (3.0, 7.0)
ROUNDS = 5            # MFCC, invoke and end to end take turns, --runs / ROUNDS at a time
STAGES = ("read_ms", "mfcc_ms", "quantise_ms", "invoke_ms", "dequantise_ms")   # of one window
DEFAULT_RUNS = 200
DEFAULT_WARMUP = 20
CHILD_TIMEOUT_S = 300
NOISY_LOAD_PER_CORE = 0.25        # 1-minute load average per core above which timings are flagged
CPU_FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimd", "asimddp", "i8mm")
SYNTH_SEED = 1234

# runs a command and prints its peak RSS (see run_child)
TRAMPOLINE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
# the memory child imports only what `sernet-edge classify` imports
RSS_CHILD = "import sys; from sernet_edge.bench.timing import classify_once; classify_once(*sys.argv[1:4])"
BASELINE_CHILD = "import numpy"
MICRO_CHILD = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d['shape'], d['dtype']), 0)
it.invoke()
sys.stdout.flush()
it.print_allocations()
"""
HAVE_RUSAGE = importlib.util.find_spec("resource") is not None
ARENA_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


# ---- statistics ----

def summarise(times_s) -> dict:
    """median, p90 and min in milliseconds of a list of durations in seconds."""
    t = np.asarray(times_s, dtype=np.float64) * 1e3
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)),
            "min_ms": float(t.min()), "runs": int(t.size)}


def timed(fn, runs: int) -> list[float]:
    """Durations in seconds of `runs` calls."""
    times = []
    clock = time.perf_counter
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return times


# ---- the model's front end ----

def features_for(path: Path, data: bytes, input_shape) -> tuple[FeatureConfig, str]:
    """The feature settings a model expects: its card's, else the defaults at its input length."""
    from sernet_edge.card import feature_config, read_card
    frames, coeffs = int(input_shape[1]), int(input_shape[2])
    try:
        cfg = feature_config(read_card(path, data))
        if cfg.input_shape[:2] == (frames, coeffs):
            return cfg, "card"
    except ModelError:
        pass
    return config_for_shape(frames, coeffs), "input shape"


def config_at(data: bytes, path: Path, seconds: float) -> FeatureConfig:
    """The model's front end (card or input shape) for a window of `seconds`."""
    from sernet_edge.bench import plain_interpreter
    shape = plain_interpreter(data, path).get_input_details()[0]["shape"]   # not allocated
    return dataclasses.replace(features_for(path, data, shape)[0], seconds=seconds)


def mfcc_shaped(shape) -> bool:
    """(1, frames, coefficients, 1) with a coefficient count the front end can produce."""
    return (len(shape) == 4 and shape[0] == 1 and shape[3] == 1 and shape[1] > 0
            and 0 < shape[2] <= FeatureConfig().n_mels)


def config_for_shape(frames: int, coeffs: int) -> FeatureConfig:
    """Default front end whose window yields `frames` frames: 184 -> 3 s, 434 -> 7 s."""
    base = FeatureConfig(n_mfcc=coeffs)
    samples = (frames - 1) * base.hop_length + base.frame_length
    exact = samples / base.sample_rate
    rounded = round(exact, 1)
    if rounded > 0 and num_frames(int(round(rounded * base.sample_rate)), base) == frames:
        return FeatureConfig(seconds=rounded, n_mfcc=coeffs)
    return FeatureConfig(seconds=exact, n_mfcc=coeffs)


def synthetic_clip(seconds: float, path: Path, sample_rate: int = 16000) -> Path:
    """A voiced-sounding test clip (harmonics + noise): timing does not depend on content."""
    import soundfile
    rng = np.random.default_rng(SYNTH_SEED)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    x = 0.2 * voice * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    soundfile.write(str(path), np.clip(x, -1, 1).astype(np.float32), sample_rate, subtype="PCM_16")
    return path


# ---- one model on the interpreter ----

class Pipeline:
    """File -> features -> (quantise) -> invoke -> (dequantise): what classify does per window."""

    def __init__(self, data: bytes, origin: str, config: FeatureConfig | None,
                 num_threads: int | None, input_shape=None):
        from sernet_edge.interpreter import make_interpreter
        self.interpreter = make_interpreter(data, num_threads, origin, input_shape)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.config = config or features_for(Path(origin), data, self._in["shape"])[0]

    def set_input(self, feats: np.ndarray) -> None:
        from sernet_edge.interpreter import to_input
        self.interpreter.set_tensor(self._in["index"], to_input(feats, self._in))

    def output(self) -> np.ndarray:
        from sernet_edge.interpreter import from_output
        return from_output(self.interpreter.get_tensor(self._out["index"])[0], self._out)

    def classify_file(self, audio_path, clock=None) -> int:
        """The label of one window; `clock`, a list, gets the time after each stage."""
        from sernet_edge.audio import load_audio
        mark = clock.append if clock is not None else (lambda _: None)
        now = time.perf_counter
        signal = load_audio(audio_path, self.config.sample_rate)
        mark(now())
        feats = extract(signal, self.config)
        mark(now())
        self.set_input(feats)
        mark(now())
        self.interpreter.invoke()
        mark(now())
        label = int(np.argmax(self.output()))
        mark(now())
        return label


def time_model(data: bytes, origin: str, config: FeatureConfig, audio: Path,
               threads=DEFAULT_THREADS, runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP,
               progress=None, input_shape=None) -> dict:
    """MFCC, invoke and end to end per thread count, measured in interleaved rounds: when other
    work comes and goes on the machine, all three see the same share of it, so their ratios
    (int8 against float, end to end against MFCC + invoke) hold even if the times drift."""
    from sernet_edge.audio import load_audio
    signal = load_audio(audio, config.sample_rate)
    per_round = max(1, -(-runs // ROUNDS))
    mfcc, rows = [], []
    for n in threads:
        if progress:
            progress(f"timing {Path(origin).name} at {config.seconds:g} s, {n} thread(s)")
        pipe = Pipeline(data, origin, config, n, input_shape)
        pipe.set_input(extract(signal, config))
        for _ in range(warmup):
            extract(signal, config)
            pipe.interpreter.invoke()
            pipe.classify_file(audio)
        invoke, total, parts = [], [], []
        for _ in range(ROUNDS):
            mfcc += timed(lambda: extract(signal, config), per_round)
            pipe.set_input(extract(signal, config))
            invoke += timed(pipe.interpreter.invoke, per_round)
            for _ in range(per_round):
                marks = [time.perf_counter()]
                pipe.classify_file(audio, marks)
                total.append(marks[-1] - marks[0])
                parts.append(np.diff(marks))
        e2e = summarise(total)
        stages = np.median(np.array(parts), axis=0) * 1e3
        rows.append({"threads": n, "invoke": summarise(invoke), "end_to_end": e2e,
                     "stages": {name: float(ms) for name, ms in zip(STAGES, stages)},
                     "rtf": e2e["median_ms"] / 1e3 / config.seconds})
    return {"audio": str(audio), "seconds": config.seconds, "mfcc": summarise(mfcc),
            "rounds": ROUNDS, "threads": rows}


# ---- separate processes: resident memory, TFLite Micro ----

def classify_once(model: str, audio: str, seconds: str = "") -> None:
    """What `sernet-edge classify` does for one clip (its runtime when the model has a card);
    with `seconds` other than the file's own window, the bench pipeline on a resized input."""
    from sernet_edge.card import read_card
    data = read_model_file(model)
    if seconds:
        config = config_at(data, Path(model), float(seconds))
        Pipeline(data, model, config, None, [1, *config.input_shape]).classify_file(audio)
        return
    try:
        read_card(model, data)
    except ModelError:
        Pipeline(data, model, None, None).classify_file(audio)
        return
    from sernet_edge.runtime import EmotionClassifier
    EmotionClassifier(model).classify_file(audio)


def run_child(code: str, args=(), timeout: float = CHILD_TIMEOUT_S,
              python: str | None = None) -> tuple[int, int | None, str, str]:
    """(exit code, peak RSS in bytes, stdout, stderr) of `python -c code args`.

    The child is started by a small Python trampoline that reads getrusage(RUSAGE_CHILDREN):
    Linux carries a process's ru_maxrss across fork and exec, so a child forked straight from
    this (possibly large) process would report at least our own size."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    cmd = [python or sys.executable, "-c", code, *map(str, args)]
    if HAVE_RUSAGE:
        cmd = [sys.executable, "-c", TRAMPOLINE, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)   # the trampoline and its child
        else:
            proc.kill()
        proc.communicate()
        return -1, None, "", f"timed out after {timeout:.0f} s"
    text = out.decode(errors="replace").rstrip("\n")
    rss = None
    if HAVE_RUSAGE:
        text, _, last = text.rpartition("\n") if "\n" in text else ("", "", text)
        unit = 1 if sys.platform == "darwin" else 1024   # ru_maxrss: bytes on macOS, KiB on Linux
        rss = int(last) * unit if last.strip().isdigit() else None
    return proc.returncode, rss, text, err.decode(errors="replace")


def process_memory(model: Path, audio: Path, seconds: float | None = None) -> dict:
    """Peak RSS of a process classifying `audio`; `seconds`: with the input resized to it."""
    if not HAVE_RUSAGE:
        return {"skipped": "getrusage is not available on this platform"}
    code, rss, _, err = run_child(RSS_CHILD, [model, audio, "" if seconds is None else seconds])
    if code != 0:
        return {"skipped": f"classify process failed: {_last_line(err)}"}
    _, base, _, _ = run_child(BASELINE_CHILD)
    return {"peak_rss_bytes": rss, "python_numpy_baseline_bytes": base}


def micro_arena(model: Path, peak_activation_bytes: int) -> dict:
    """Arena TFLite Micro allocates for the model file (reference kernels, host build)."""
    if importlib.util.find_spec("tflite_micro") is None:
        return {"skipped": "tflite-micro not installed (the [micro] extra: pip install '.[micro]' in the sernet-edge folder)"}
    arena = 2 * peak_activation_bytes + (1 << 20)
    code, _, _, err = run_child(MICRO_CHILD, [model, arena])
    found = {k: int(v) for k, v in ARENA_LINE.findall(err)}
    if code != 0 or "total" not in found:
        return {"skipped": f"TFLite Micro could not run it: {_last_line(err)}"}
    return {"arena_bytes": found["total"], "head_bytes": found.get("head"),
            "tail_bytes": found.get("tail")}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


# ---- the machine ----

def machine_info() -> dict:
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and cpu in ("", platform.machine(), platform.processor()):
                cpu = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_flags": [f for f in CPU_FLAGS_OF_NOTE if f in flags],
        "cores": cores,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtime": runtime_version(),
        "load_average_1m": load,
        "noisy": load is not None and load / cores > NOISY_LOAD_PER_CORE,
    }


# ---- the whole run ----

def benchmark(models, threads=DEFAULT_THREADS, runs: int = DEFAULT_RUNS,
              warmup: int = DEFAULT_WARMUP, audio: Path | None = None, timing: bool = True,
              micro: bool = True, progress=None, seconds=DEFAULT_SECONDS) -> dict:
    """Everything `sernet-edge bench` reports: for each model and each window length in
    `seconds`, one entry, counted, then measured."""
    machine = machine_info()        # load average before we add our own
    load_before = machine["load_average_1m"]
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="sernet-bench-") as tmp:
        for model in models:
            path = Path(model)
            data = read_model_file(path)
            for entry, config in _windows(data, path, seconds, timing, skipped, progress):
                _measure(entry, config, data, path, Path(tmp), audio, threads, runs, warmup,
                         timing, micro, progress)
                results.append(entry)
    if timing and load_before is not None:
        # our own runs raise the load too: flag only load that was there before we started
        machine["load_average_1m_after"] = os.getloadavg()[0]
    return {"machine": machine,
            "settings": {"threads": list(threads), "runs": runs, "warmup": warmup,
                         "seconds": [float(x) for x in seconds], "timing": timing,
                         "micro": micro, "audio": str(audio) if audio else "synthetic"},
            "models": results, "skipped_windows": skipped}


def _windows(data: bytes, path: Path, seconds, timing: bool, skipped: list,
             progress) -> list[tuple[dict, FeatureConfig | None]]:
    """(counted figures, front end) of one model at each window length (its input resized to
    it); a model without an MFCC input: its own shape, no front end."""
    from sernet_edge.bench.graph import analyse_bytes
    if progress:
        progress(f"counting {path.name}")
    native = analyse_bytes(data, path)
    shape = native["input"]["shape"]
    if not mfcc_shaped(shape):
        if timing:
            why = f"input {shape} is not an MFCC image (1, frames, coefficients, 1)"
            native["timing"] = native["process"] = {"skipped": why}
        native["window"] = None
        return [(native, None)]
    config, source = features_for(path, data, shape)
    entries = []
    for s in seconds:
        cfg = dataclasses.replace(config, seconds=float(s))
        want = [1, *cfg.input_shape]
        resized = want != list(shape)
        try:
            entry = analyse_bytes(data, path, want) if resized else dict(native)
        except ModelError as e:
            skipped.append({"model": path.name, "seconds": float(s),
                            "reason": str(e).split(": ", 1)[-1]})
            continue
        entry["window"] = {"seconds": cfg.seconds, "frames": cfg.num_frames, "resized": resized}
        entry["features"] = {"seconds": cfg.seconds, "frames": cfg.num_frames,
                             "n_mfcc": cfg.n_mfcc, "source": source}
        entries.append((entry, cfg))
    return entries


def _measure(entry: dict, config: FeatureConfig | None, data: bytes, path: Path, tmp: Path,
             audio, threads, runs, warmup, timing: bool, micro: bool, progress) -> None:
    """Add the measured figures (timing, process memory, TFLite Micro arena) to one entry."""
    window = entry.get("window") or {}
    if timing and config is not None:
        clip = Path(audio) if audio else synthetic_clip(
            config.seconds, tmp / f"clip-{config.seconds:g}s.wav", config.sample_rate)
        shape = entry["input"]["shape"] if window.get("resized") else None
        entry["timing"] = time_model(data, str(path), config, clip, threads, runs, warmup,
                                     progress, shape)
        if progress:
            progress(f"process memory of {path.name} at {config.seconds:g} s")
        entry["process"] = process_memory(path, clip, config.seconds if shape else None)
    if not micro:
        return
    if not entry["integer_only"]:
        entry["micro"] = {"skipped": "not an integer-only model"}
        return
    if progress:
        progress(f"TFLite Micro arena of {path.name}" + (f" at {config.seconds:g} s" if config else ""))
    model_file = path
    if window.get("resized"):
        model_file = tmp / f"{path.stem}-{config.seconds:g}s.tflite"
        shapes = resized_shapes(data, path, entry["input"]["shape"])
        model_file.write_bytes(with_tensor_shapes(data, shapes, str(path)))
    entry["micro"] = micro_arena(model_file, entry["peak_activation_bytes"])


def resized_shapes(data: bytes, path: Path, input_shape) -> dict[int, tuple]:
    """Every tensor's shape at `input_shape`, as the interpreter propagates it."""
    from sernet_edge.bench import plain_interpreter
    interp = plain_interpreter(data, path, input_shape)
    return {d["index"]: tuple(int(x) for x in d["shape"]) for d in interp.get_tensor_details()}

#!/usr/bin/env python3
"""The same Light-SERNet network on three runtimes: LiteRT (what sernet-edge uses), the Keras
model in TensorFlow, and the old `tflite-runtime` where it installs.

    python benchmarks/compare_runtimes.py                    # untrained stand-in, 3 s
    python benchmarks/compare_runtimes.py --keras m.keras --tflite m-float32.tflite m-int8.tflite

Every measurement runs in a fresh process (import time and peak RSS are per process): import,
model load, then warm-up and timed runs of one inference on a batch of 1 (median / p90 / min).
TensorFlow is timed three ways: `model(x)` eagerly, a `tf.function`, and `model.predict(x)`.
tflite-runtime is installed into a throw-away virtualenv (it needs numpy<2 and has no wheels
for Python 3.12+); if that fails, the results say so. Writes
benchmarks/results/runtimes-<date>.json, .md and .png.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
STAND_IN_SEED = 7
PREDICT_RUNS = 30          # predict() costs tens of ms per call
TFLITE_RUNTIME_PINS = ("tflite-runtime", "numpy<2")

# One measurement in a fresh process; prints a JSON line. argv: kind, model, threads, runs, warmup
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
kind, model, threads, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
import numpy as np

def stats(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(runs):
        a = time.perf_counter(); fn(); t.append((time.perf_counter() - a) * 1e3)
    t = np.array(t)
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)),
            "min_ms": float(t.min()), "runs": runs}

out = {}
if kind == "tensorflow":
    import tensorflow as tf
    import keras
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    out["import_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    m = keras.models.load_model(model, compile=False)
    x = np.random.default_rng(0).standard_normal((1, *m.input_shape[1:])).astype(np.float32)
    m(x, training=False)
    out["load_s"] = time.perf_counter() - t1
    out["version"] = "tensorflow " + tf.__version__
    f = tf.function(lambda v: m(v, training=False))
    f(x)
    out["modes"] = {"model(x)": stats(lambda: m(x, training=False).numpy(), runs, warmup),
                    "tf.function": stats(lambda: f(x).numpy(), runs, warmup),
                    "predict(x)": stats(lambda: m.predict(x, verbose=0), min(runs, %d), min(warmup, 3))}
else:
    if kind == "litert":
        from ai_edge_litert.interpreter import Interpreter
        from importlib.metadata import version
        out["version"] = "ai-edge-litert " + version("ai-edge-litert")
    else:
        from tflite_runtime.interpreter import Interpreter
        from importlib.metadata import version
        out["version"] = "tflite-runtime " + version("tflite-runtime")
    out["import_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    it = Interpreter(model_path=model, num_threads=threads)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.zeros(d["shape"], d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    out["load_s"] = time.perf_counter() - t1
    out["modes"] = {"invoke": stats(it.invoke, runs, warmup)}
out["numpy"] = np.__version__
print(json.dumps(out))
""" % PREDICT_RUNS


def build_stand_in(out: Path) -> tuple[Path, list[Path]]:
    """Untrained Light-SERNet at 3 s: the Keras model and its float32 / dynamic-int8 / int8
    conversions by the project's converter (int8 calibrated on the bundled clips)."""
    import numpy as np
    import keras

    from sernet_edge.audio import load_audio
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.runtime import bundled_clips
    from sernet_edge.train.convert import convert_keras, inference_models
    from sernet_edge.train.model import build_model

    keras.utils.set_random_seed(STAND_IN_SEED)
    cfg = FeatureConfig(seconds=3.0)
    model = build_model(cfg.input_shape, 7)
    _, fixed = inference_models(model, cfg.num_frames)
    keras_path = out / "light-sernet-untrained-3s.keras"
    fixed.save(keras_path)
    rep = np.stack([extract(load_audio(p), cfg) for p in bundled_clips()])[..., None]
    paths = []
    for precision in ("float32", "dynamic-int8", "int8"):
        path = out / f"light-sernet-untrained-3s-{precision}.tflite"
        path.write_bytes(convert_keras(model, cfg, precision, rep if precision == "int8" else None))
        paths.append(path)
    return keras_path, paths


def stand_in(out: Path) -> tuple[Path, list[Path]]:
    code = ("import sys, json; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.compare_runtimes import build_stand_in; "
            "k, t = build_stand_in(Path(sys.argv[2])); print(json.dumps([str(k), list(map(str, t))]))")
    res = subprocess.run([sys.executable, "-c", code, str(REPO), str(out)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"building the stand-in model failed:\n{res.stderr[-2000:]}")
    k, t = json.loads(res.stdout.strip().splitlines()[-1])
    return Path(k), [Path(p) for p in t]


def measure(python: str, kind: str, model: Path, threads: int, runs: int, warmup: int) -> dict:
    from sernet_edge.bench.timing import run_child
    code, rss, out, err = run_child(CHILD, [kind, model, threads, runs, warmup], python=python)
    row = {"runtime": kind, "model": model.name, "threads": threads}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if code != 0 or not lines:
        return {**row, "error": _reason(err) or f"exit code {code}"}
    return {**row, **json.loads(lines[-1]), "peak_rss_bytes": rss}


def tflite_runtime_python(tmp: Path) -> tuple[str | None, list[str]]:
    """A virtualenv with tflite-runtime and numpy<2, and what we learned installing it."""
    notes = []
    wheel_312 = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "-d", str(tmp / "wheels"), "tflite-runtime"],
        capture_output=True, text=True)
    notes.append("Python 3.12 wheel: " + ("available" if wheel_312.returncode == 0 else
                                          "none (pip download finds no matching distribution)"))
    venv = tmp / "tflite-runtime-venv"
    res = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    python = str(venv / "bin" / "python")
    if res.returncode == 0:
        res = subprocess.run([python, "-m", "pip", "install", "-q", *TFLITE_RUNTIME_PINS],
                             capture_output=True, text=True)
    if res.returncode != 0:
        notes.append(f"not installable on Python {sys.version.split()[0]}: "
                     + (res.stderr.strip().splitlines() or ["unknown error"])[-1])
        return None, notes
    notes.append(f"installed on Python {sys.version.split()[0]} with numpy<2")
    return python, notes


def numpy2_check(python: str, model: Path) -> str:
    """Does tflite-runtime load a model with numpy 2 (upgraded in its throw-away venv)?"""
    subprocess.run([python, "-m", "pip", "install", "-q", "numpy>=2"], capture_output=True)
    code = ("import sys, numpy; from tflite_runtime.interpreter import Interpreter; "
            "Interpreter(model_path=sys.argv[1]).allocate_tensors(); print(numpy.__version__)")
    res = subprocess.run([python, "-c", code, str(model)], capture_output=True, text=True)
    if res.returncode == 0:
        return f"loads a model with numpy {res.stdout.strip()}"
    text = " ".join(res.stderr.split())
    marker = re.search(r"A module that was compiled using NumPy 1\.x cannot be run in NumPy [\d.]+", text)
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    return ("with numpy 2 it imports but cannot load a model: "
            + (marker.group(0) if marker else (lines[-1] if lines else f"exit {res.returncode}")))


def _reason(stderr: str) -> str:
    """The informative line of a failed child: a missing-op message, else the last line."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return next((ln for ln in lines if "Didn't find op" in ln), lines[-1] if lines else "")


# ---- output ----

def _ms(s: dict) -> str:
    return f"{s['median_ms']:.2f} / {s['p90_ms']:.2f} / {s['min_ms']:.2f}"


def rows_for_table(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        base = [r["runtime"], r["model"], str(r["threads"])]
        if "error" in r:
            out.append(base + ["-", "-", "-", "-", "-", f"failed: {r['error'].split('. ')[0][:140]}"])
            continue
        rss = f"{r['peak_rss_bytes'] / 2**20:.0f}" if r.get("peak_rss_bytes") else "-"
        for mode, s in r["modes"].items():
            out.append(base + [mode, f"{r['import_s']:.2f}", f"{r['load_s']:.3f}", _ms(s), rss,
                               r.get("version", "")])
    return out


def markdown(results: dict) -> str:
    from sernet_edge.bench.report import machine_line, render
    m = results["machine"]
    headers = ["runtime", "model", "threads", "call", "import s", "load s",
               "median / p90 / min ms", "peak RSS MiB", "version / note"]
    parts = ["# Runtime comparison", "",
             f"- machine: {machine_line(m)}",
             f"- load average before the run: {m['load_average_1m']:.2f}"
             + (" — **NOISY: other work was using the CPU; timings are high and spread out**"
                if m.get("noisy") else ""),
             f"- command: `{results['command']}`",
             f"- {results['runs']} timed runs after {results['warmup']} warm-up "
             f"(`predict(x)`: {PREDICT_RUNS}); each row is a fresh process; input batch 1.",
             "", render(headers, rows_for_table(results["rows"]), markdown=True), "",
             "## tflite-runtime", ""] + [f"- {n}" for n in results["tflite_runtime"]]
    return "\n".join(parts) + "\n"


def chart(results: dict, path: Path) -> None:
    """Latency, import time and peak RSS per (runtime, call, model, threads), horizontal bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sernet_edge.io import atomic_path
    colours = {"litert": "#4c72b0", "tensorflow": "#dd8452", "tflite-runtime": "#55a868"}
    bars = []
    for r in results["rows"]:
        if "error" in r:
            continue
        model = r["model"].removeprefix("light-sernet-").removesuffix(".tflite").removesuffix(".keras")
        for mode, s in r["modes"].items():
            bars.append((f"{r['runtime']} {mode}  {model}  {r['threads']}t", s["median_ms"],
                         r["import_s"], (r.get("peak_rss_bytes") or 0) / 2**20,
                         colours.get(r["runtime"], "grey")))
    fig = Figure(figsize=(13, 1.5 + 0.3 * len(bars)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=True)
    ys = list(range(len(bars)))[::-1]
    for ax, k, title in zip(axes, (1, 2, 3), ("median latency, ms (log scale)", "import time, s",
                                             "peak RSS, MiB")):
        vals = [b[k] for b in bars]
        ax.barh(ys, vals, color=[b[4] for b in bars])
        ax.set_title(title, fontsize=10)
        if k == 1:
            ax.set_xscale("log")
        for y, v in zip(ys, vals):
            ax.annotate(f"{v:.3g}", (v, y), va="center", fontsize=7, xytext=(2, 0),
                        textcoords="offset points")
    axes[0].set_yticks(ys)
    axes[0].set_yticklabels([b[0] for b in bars], fontsize=8)
    m = results["machine"]
    fig.suptitle(f"runtimes  {m['date'][:10]}  {m['cpu']} ({m['cores']} cores)"
                 + (f"  NOISY: load {m['load_average_1m']:.1f} before the run" if m.get("noisy") else ""),
                 fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keras", type=Path, help="Keras model (.keras) with batch-1 input")
    ap.add_argument("--tflite", type=Path, nargs="*", default=[], help=".tflite files")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--no-tflite-runtime", action="store_true", help="skip tflite-runtime")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from sernet_edge.bench.timing import machine_info
    from sernet_edge.io import write_json, write_text

    threads = [int(x) for x in args.threads.split(",")]
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="sernet-runtimes-") as tmp:
        tmp = Path(tmp)
        keras_path, tflites = args.keras, list(args.tflite)
        if keras_path is None and not tflites:
            print("... building the stand-in model", file=sys.stderr)
            keras_path, tflites = stand_in(tmp)
        rows = []
        for n in threads:
            if keras_path:
                print(f"... tensorflow, {n} thread(s)", file=sys.stderr)
                rows.append(measure(sys.executable, "tensorflow", keras_path, n, args.runs, args.warmup))
            for t in tflites:
                print(f"... litert {t.name}, {n} thread(s)", file=sys.stderr)
                rows.append(measure(sys.executable, "litert", t, n, args.runs, args.warmup))
        notes = ["skipped (--no-tflite-runtime)"]
        if not args.no_tflite_runtime:
            print("... installing tflite-runtime into a throw-away venv", file=sys.stderr)
            python, notes = tflite_runtime_python(tmp)
            if python:
                for n in threads:
                    for t in tflites:
                        print(f"... tflite-runtime {t.name}, {n} thread(s)", file=sys.stderr)
                        rows.append(measure(python, "tflite-runtime", t, n, args.runs, args.warmup))
                if tflites:
                    notes.append(numpy2_check(python, tflites[0]))
    results = {"machine": machine, "runs": args.runs, "warmup": args.warmup,
               "command": " ".join(["python benchmarks/compare_runtimes.py",
                                    *(argv if argv is not None else sys.argv[1:])]),
               "rows": rows, "tflite_runtime": notes}
    stem = args.out / f"runtimes-{machine['date'][:10]}"
    write_json(stem.with_suffix(".json"), results)
    text = markdown(results)
    write_text(stem.with_suffix(".md"), text)
    chart(results, stem.with_suffix(".png"))
    print(text)
    print(f"wrote {stem}.json, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

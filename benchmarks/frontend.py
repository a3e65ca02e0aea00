"""The MFCC front end against python_speech_features (and librosa, if installed).

Ours: `features.mfcc` (the MFCC alone) and `features.extract` (centre crop/pad + 99.9th
percentile normalisation + MFCC: what the runtime calls per window). python_speech_features
is configured as close to the paper's front end as it allows: 64 ms frames every 16 ms, FFT
1024, 128 filters over 80-7600 Hz, 40 coefficients, periodic Hann window, no pre-emphasis, no
lifter, no energy column (it still uses the power spectrum, its own filter edges and an
orthonormal DCT, and pads a 185th frame). librosa, when present: `librosa.feature.mfcc` with
the equivalent settings; it is not a dependency and is never installed for this.

All methods are timed round-robin (one call of each in turn) after a warm-up, so that load
from other processes falls on all of them alike; median, p90 and min per method. On a shared
machine the min is the cleanest figure, the median the typical one. Everything is measured
twice: with OpenBLAS as configured, and in a child process with OPENBLAS_NUM_THREADS=1,
because python_speech_features' filterbank matmul goes multi-threaded and, when another job
holds the cores, waits for them (ours keeps its products small enough to stay on one thread).

    .venv/bin/python benchmarks/frontend.py [--runs 400] [--warmup 30] [--note "..."]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sernet_edge.features import FeatureConfig, extract, mfcc
from sernet_edge.io import write_json, write_text

RESULTS = Path(__file__).resolve().parent / "results"
SECONDS = (3.0, 7.0)
RUNS = 400
WARMUP = 30
SEED = 2022
TARGET_SPEEDUP = 5.0          # ours (mfcc) vs python_speech_features on 3 s, by median and by min
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1"}
PAPER_PSF = dict(winlen=0.064, winstep=0.016, numcep=40, nfilt=128, nfft=1024, lowfreq=80,
                 highfreq=7600, preemph=0.0, ceplifter=0, appendEnergy=False)


def periodic_hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def bench_signal(seconds: float) -> np.ndarray:
    """Speech-like enough for timing (content does not change the work): noise under a few
    harmonics, float32 as `load_audio` returns it. Fixed seed."""
    rng = np.random.default_rng(SEED)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = 0.05 * rng.standard_normal(n) + sum(0.2 / k * np.sin(2 * np.pi * 180 * k * t) for k in range(1, 6))
    return x.astype(np.float32)


def methods(seconds: float) -> tuple[dict, dict]:
    """name -> zero-argument callable, and name -> why it is missing."""
    cfg = FeatureConfig(seconds=seconds)
    x = bench_signal(seconds)
    x64 = x.astype(np.float64)   # given float32, python_speech_features computes in float32
    found = {"ours mfcc": lambda: mfcc(x, cfg), "ours extract": lambda: extract(x, cfg)}
    missing = {}
    if importlib.util.find_spec("python_speech_features"):
        import python_speech_features as psf
        found["python_speech_features"] = lambda: psf.mfcc(x64, 16000, winfunc=periodic_hann, **PAPER_PSF)
    else:
        missing["python_speech_features"] = "not installed"
    if importlib.util.find_spec("librosa"):
        import librosa
        found["librosa"] = lambda: librosa.feature.mfcc(
            y=x, sr=16000, n_mfcc=40, n_fft=1024, hop_length=256, win_length=1024, window="hann",
            center=False, power=1.0, n_mels=128, fmin=80, fmax=7600, htk=True)
    else:
        missing["librosa"] = "not installed"
    return found, missing


def summarise(times_s) -> dict:
    t = np.asarray(times_s) * 1e3
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)),
            "min_ms": float(t.min()), "mean_ms": float(t.mean()), "runs": int(t.size)}


def time_round_robin(fns: dict, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    clock = time.perf_counter
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            times[name].append(clock() - t0)
    return {name: summarise(t) for name, t in times.items()}


def training_jobs() -> list[str]:
    """Command lines of running `sernet-edge train` processes (Linux /proc; read only)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in args if a]
        if any(a.endswith(("sernet-edge", "sernet_edge")) and b == "train" for a, b in zip(args, args[1:])):
            found.append(" ".join(args))
    return found


def load_average() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openblas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS")},
        "load_average_1m": load_average(),
        "training_jobs": len(training_jobs()),
    }


def run_cases(runs: int, warmup: int) -> dict:
    cases = {}
    for seconds in SECONDS:
        fns, missing = methods(seconds)
        shapes = {name: list(np.shape(fn())) for name, fn in fns.items()}
        timing = time_round_robin(fns, runs, warmup)
        case = {"seconds": seconds, "timing": timing, "output_shape": shapes, "missing": missing}
        if "python_speech_features" in timing:
            psf, ours = timing["python_speech_features"], timing["ours mfcc"]
            case["speedup_vs_psf"] = {"median": psf["median_ms"] / ours["median_ms"],
                                      "min": psf["min_ms"] / ours["min_ms"]}
        cases[f"{seconds:g}s"] = case
    return cases


def run_cases_one_thread(runs: int, warmup: int) -> dict:
    """The same cases in a child process whose OpenBLAS uses one thread (set before numpy loads)."""
    done = subprocess.run([sys.executable, __file__, "--child", "--runs", str(runs), "--warmup", str(warmup)],
                          env={**os.environ, **ONE_THREAD}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def run(runs: int, warmup: int) -> dict:
    results = {"machine": machine(), "runs": runs, "warmup": warmup}
    default = "OpenBLAS as configured"
    results["blas"] = {default: run_cases(runs, warmup),
                       "OPENBLAS_NUM_THREADS=1": run_cases_one_thread(runs, warmup)}
    results["machine"]["load_average_1m_end"] = load_average()
    return results


def markdown(r: dict, note: str | None) -> str:
    m = r["machine"]
    day = m["date"][:10]
    out = [f"# MFCC front end, {day}", ""]
    speedups = [case["speedup_vs_psf"] for cases in r["blas"].values()
                for key, case in cases.items() if key == "3s" and "speedup_vs_psf" in case]
    if speedups:
        worst = min(min(s.values()) for s in speedups)
        out += [f"**{'PASS' if worst >= TARGET_SPEEDUP else 'BELOW TARGET'}**: on 3 s, ours (`mfcc`) "
                f"is at least {worst:.1f}x faster than python_speech_features, by median and by min, "
                f"under both BLAS settings (target {TARGET_SPEEDUP:g}x).", ""]
    for blas, cases in r["blas"].items():
        for key, case in cases.items():
            out += [f"## {key} of audio, {blas}", "", "| method | output | median ms | p90 ms | min ms |",
                    "|---|---|---|---|---|"]
            for name, t in case["timing"].items():
                shape = "x".join(map(str, case["output_shape"][name]))
                out.append(f"| {name} | {shape} | {t['median_ms']:.3f} | {t['p90_ms']:.3f} | "
                           f"{t['min_ms']:.3f} |")
            for name, why in case["missing"].items():
                out.append(f"| {name} | {why} | | | |")
            if "speedup_vs_psf" in case:
                sp = case["speedup_vs_psf"]
                out += ["", f"ours `mfcc` vs python_speech_features: {sp['median']:.1f}x by median, "
                        f"{sp['min']:.1f}x by min."]
            out.append("")
    busy = m["training_jobs"]
    env = ", ".join(f"{k}={v}" for k, v in m["openblas_env"].items()) or "none set"
    out += [
        "## Conditions", "",
        "| | |", "|---|---|",
        f"| date | {m['date']} |",
        f"| machine | {m['cpu']}, {m['cores']} cores, {m['platform']} |",
        f"| software | Python {m['python']}, numpy {m['numpy']} |",
        f"| OpenBLAS env | {env} |",
        f"| runs | {r['runs']} per method, round-robin, after {r['warmup']} warm-up rounds |",
        f"| load | 1-min load average {m['load_average_1m']} at start, "
        f"{m['load_average_1m_end']} at end |",
        f"| other work | {busy} `sernet-edge train` process(es) running"
        + (" (a training job shared the CPU: medians are inflated, mins less so)" if busy else "") + " |",
        "",
        "python_speech_features: " + ", ".join(f"{k}={v}" for k, v in PAPER_PSF.items())
        + ", winfunc=periodic Hann, float64 input. Its output has 185 frames (it pads the last one).",
        "",
        "`ours extract` adds the centre crop/pad and the 99.9th-percentile normalisation to `ours mfcc`.",
    ]
    if note:
        out += ["", f"Note: {note}"]
    out += ["", f"Run: `python benchmarks/frontend.py --runs {r['runs']} --warmup {r['warmup']}`", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--warmup", type=int, default=WARMUP)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--note", default=None, help="A line added to the markdown report.")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:   # the one-thread pass: timings as JSON on stdout, nothing written
        print(json.dumps(run_cases(args.runs, args.warmup)))
        return 0
    results = run(args.runs, args.warmup)
    day = results["machine"]["date"][:10]
    write_json(args.out / f"frontend-{day}.json", results)
    text = markdown(results, args.note)
    write_text(args.out / f"frontend-{day}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run the `sernet-edge bench` suite on models and commit-ready results.

    python benchmarks/bench_model.py                         # the bundled models, 3 s and 7 s
    python benchmarks/bench_model.py out/*.tflite            # any converted models
    python benchmarks/bench_model.py --stand-in              # untrained Light-SERNet,
                                                             # float32/float16/dynamic-int8/int8

Writes benchmarks/results/<name>-<date>.json, .md and .png (date and machine inside). Stand-in
models have random weights: every figure here is independent of the weights except accuracy,
which this script does not measure. Building them needs TensorFlow, and happens in a separate
process so that the measuring process never holds TensorFlow.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
STAND_IN_SECONDS = (3,)      # 7 s figures come from resizing the input, as for any model
STAND_IN_PRECISIONS = ("float32", "float16", "dynamic-int8", "int8")
STAND_IN_SEED = 7


def build_stand_ins(out: Path) -> list[Path]:
    """Untrained Light-SERNet converted by the project's converter; int8 calibrated on the
    MFCCs of the bundled clips. Runs in the child process started by `stand_in_models`."""
    import numpy as np
    import keras

    from sernet_edge.audio import load_audio
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.runtime import bundled_clips
    from sernet_edge.train.convert import convert_keras
    from sernet_edge.train.model import build_model

    keras.utils.set_random_seed(STAND_IN_SEED)
    model = build_model((184, 40, 1), 7)
    clips = [load_audio(p) for p in bundled_clips()]
    paths = []
    for seconds in STAND_IN_SECONDS:
        cfg = FeatureConfig(seconds=float(seconds))
        rep = np.stack([extract(x, cfg) for x in clips])[..., None]
        for precision in STAND_IN_PRECISIONS:
            path = out / f"light-sernet-untrained-{seconds}s-{precision}.tflite"
            path.write_bytes(convert_keras(model, cfg, precision, rep if precision == "int8" else None))
            paths.append(path)
    return paths


def stand_in_models(out: Path) -> list[Path]:
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.bench_model import build_stand_ins; "
            "print('\\n'.join(map(str, build_stand_ins(Path(sys.argv[2])))))")
    res = subprocess.run([sys.executable, "-c", code, str(REPO), str(out)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"building stand-in models failed:\n{res.stderr[-2000:]}")
    return [Path(line) for line in res.stdout.split("\n") if line.endswith(".tflite")]


def bundled_models() -> list[Path]:
    return sorted((REPO / "models").glob("*.tflite"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help="models (default: the bundled ones)")
    ap.add_argument("--stand-in", action="store_true",
                    help="build and benchmark untrained Light-SERNet models (needs TensorFlow)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--seconds", default="3,7", help="window lengths (default 3,7)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--name", default=None, help="results file stem (default: model or stand-in)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = ap.parse_args(argv)

    import tempfile

    from sernet_edge.bench import report
    from sernet_edge.bench.timing import benchmark
    from sernet_edge.io import write_text

    with tempfile.TemporaryDirectory(prefix="sernet-stand-ins-") as tmp:
        models = list(args.models)
        if args.stand_in:
            models += stand_in_models(Path(tmp))
        if not models:
            models = bundled_models()
        if not models:
            sys.exit("no models: pass .tflite files, or --stand-in, or add models to models/")
        threads = tuple(int(x) for x in args.threads.split(","))
        seconds = tuple(float(x) for x in args.seconds.split(","))
        results = benchmark(models, threads=threads, runs=args.runs, warmup=args.warmup,
                            seconds=seconds, progress=lambda msg: print(f"... {msg}", file=sys.stderr))
    name = args.name or ("stand-in" if args.stand_in else "model")
    stem = args.out / f"{name}-{results['machine']['date'][:10]}"
    command = " ".join(["python benchmarks/bench_model.py",
                        *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))])
    results["command"] = command
    for m in results["models"]:   # temporary folders mean nothing in a committed file
        if args.stand_in and m["model"].startswith(tempfile.gettempdir()):
            m["model"] = m["name"]
        if m.get("timing", {}).get("audio", "").startswith(tempfile.gettempdir()):
            m["timing"]["audio"] = f"synthetic {m['timing']['seconds']:g} s clip"
    title = "Model benchmark" + (" (untrained stand-in models)" if args.stand_in else "")
    md = report.markdown_report(results, title)
    md = md.replace("\n## Figures", f"\n- command: `{command}`\n\n## Figures", 1)
    write_text(stem.with_suffix(".json"), report.json_report(results))
    write_text(stem.with_suffix(".md"), md)
    report.write_chart(results, stem.with_suffix(".png"))
    print(report.text_report(results))
    print(f"wrote {stem}.json, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

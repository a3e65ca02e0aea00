#!/usr/bin/env python3
"""Cold start of `sernet-edge classify` on one clip: a new process each run, as a user sees it.

    python benchmarks/cold_start.py [--runs 20] [--model M.tflite]

Also times the pieces a cold start pays for (Python + imports, model load) and, for scale,
`import tensorflow`. Writes benchmarks/results/cold-start-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sernet_edge.bench.timing import machine_info  # noqa: E402
from sernet_edge.runtime import bundled_clips, bundled_model_path  # noqa: E402

TARGET_S = 0.5


def wall(cmd: list[str], runs: int) -> dict:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--model", default=str(bundled_model_path()))
    args = ap.parse_args()
    clip = str(bundled_clips()[0])
    exe = shutil.which("sernet-edge") or str(Path(sys.executable).with_name("sernet-edge"))
    py = sys.executable
    rows = {
        "python -c pass": wall([py, "-c", "pass"], args.runs),
        "import sernet_edge.runtime": wall([py, "-c", "import sernet_edge.runtime"], args.runs),
        "load model (EmotionClassifier)": wall(
            [py, "-c", f"from sernet_edge.runtime import EmotionClassifier; EmotionClassifier({args.model!r})"],
            args.runs),
        "sernet-edge classify CLIP": wall([exe, "classify", "-m", args.model, clip], args.runs),
    }
    try:
        rows["python -c 'import tensorflow' (for scale)"] = wall([py, "-c", "import tensorflow"], 3)
    except subprocess.CalledProcessError:
        pass
    date = time.strftime("%Y-%m-%d")
    result = {"date": date, "model": os.path.basename(args.model), "clip": os.path.basename(clip),
              "target_s": TARGET_S, "rows": rows, "machine": machine_info()}
    out = REPO / "benchmarks" / "results" / f"cold-start-{date}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    cli = rows["sernet-edge classify CLIP"]["median_s"]
    lines = [f"# Cold start, {date}", "",
             f"**{'PASS' if cli < TARGET_S else 'FAIL'}**: `sernet-edge classify` on one clip takes "
             f"{cli:.3f} s (median of {args.runs} new processes; target {TARGET_S} s).", "",
             f"Model `{result['model']}`, clip `{result['clip']}`. Machine: "
             f"{result['machine'].get('cpu', '')}, {result['machine'].get('cores', '')} cores, "
             f"1-minute load before the run {result['machine'].get('load_average_1m', '')}.", "",
             "| command (new process each run) | median s | min s | max s |", "|---|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

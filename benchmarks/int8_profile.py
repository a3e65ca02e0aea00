#!/usr/bin/env python3
"""Where an invoke's work goes, per operator kind, counted in instructions (callgrind).

    python benchmarks/int8_profile.py                 # the bundled multi models, 3 s and 7 s

Each model runs `invoke` under valgrind's callgrind (collecting only inside the interpreter's
Invoke), and the instructions of each kernel are grouped by the operator that calls it.
Instruction counts do not depend on what else the machine is doing, so this can run beside a
training job. Under valgrind the CPU reports AVX2 and FMA but neither AVX-512 nor VNNI: XNNPACK
picks its AVX2 kernels, as on a CPU without VNNI (an AMD Zen 2/3, an older Intel core). An
instruction count is not a time: a wide multiply-add and a copy count the same.

Also listed: how the XNNPACK delegate partitions each graph (operators it does not take run on
LiteRT's built-in kernels, between delegate partitions).

Writes benchmarks/results/int8-profile-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
MODELS = ("light-sernet-multi-3s-int8.tflite", "light-sernet-multi-3s-float16.tflite")
FRAMES = {3: 184, 7: 434}
INVOKES = 3          # counted invokes, after one untimed
# kernel symbol -> operator kind
KINDS = [
    (r"igemm|_gemm|packw|conv", "CONV_2D / FULLY_CONNECTED (XNNPACK)"),
    (r"xnn_.*avgpool|xnn_.*pavgpool", "AVERAGE_POOL_2D (XNNPACK)"),
    (r"optimized_integer_ops::AveragePool|reference_integer_ops::AveragePool|AveragePool",
     "AVERAGE_POOL_2D (LiteRT built-in kernel)"),
    (r"rsum|reduce|mean|Mean", "MEAN"),
    (r"copy|memcpy|memmove|concat", "CONCATENATION / copies"),
    (r"memset", "memset (zero padding buffers)"),
    (r"softmax|Softmax|vmax|raddstoreexpminusmax", "SOFTMAX"),
]
CHILD = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
path, frames, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
it = Interpreter(model_path=path, num_threads=1)
it.resize_tensor_input(it.get_input_details()[0]["index"], [1, frames, 40, 1], strict=False)
it.allocate_tensors()
d = it.get_input_details()[0]
rng = np.random.default_rng(0)
x = rng.integers(-100, 100, d["shape"]) if d["dtype"] != np.float32 else rng.standard_normal(d["shape"])
it.set_tensor(d["index"], x.astype(d["dtype"]))
for _ in range(n + 1):
    it.invoke()
print(sum(1 for op in it._get_ops_details() if op["op_name"] == "DELEGATE"))
"""


def kind(symbol: str) -> str:
    for pattern, name in KINDS:
        if re.search(pattern, symbol):
            return name
    return "other"


def profile(model: Path, frames: int, tmp: Path) -> dict:
    out = tmp / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
           "--toggle-collect=*InterpreterWrapper::Invoke*",
           sys.executable, "-c", CHILD, str(model), str(frames), str(INVOKES)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"error: valgrind failed on {model.name}: {res.stderr.strip()[-300:]}")
    partitions = int(res.stdout.split()[0])
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", str(out)], capture_output=True,
                         text=True, check=True).stdout
    per_kind: dict[str, int] = {}
    kernels = []
    total = 0
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)", line)
        if not m:
            continue
        count, where = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in where:
            total = count
            continue
        symbol = where.split(":", 1)[1].split(" [")[0] if ":" in where else where
        per_kind[kind(symbol)] = per_kind.get(kind(symbol), 0) + count
        kernels.append({"symbol": symbol[:120], "instructions_per_invoke": count // (INVOKES + 1)})
    per_invoke = {k: v // (INVOKES + 1) for k, v in sorted(per_kind.items(), key=lambda kv: -kv[1])}
    return {"model": model.name, "frames": frames, "delegate_partitions": partitions,
            "instructions_per_invoke": total // (INVOKES + 1), "by_operator": per_invoke,
            "top_kernels": sorted(kernels, key=lambda k: -k["instructions_per_invoke"])[:8]}


def markdown(result: dict) -> str:
    lines = ["# Where an invoke's instructions go (callgrind, AVX2 kernels)", "",
             f"- date: {result['date']}", f"- {result['runtime']}", f"- command: `{result['command']}`",
             "- under valgrind the CPU reports AVX2 + FMA, no AVX-512 and no VNNI, so XNNPACK runs "
             "the kernels it uses on such CPUs; instruction counts are exact and repeatable, but "
             "they are not times.", ""]
    for r in result["runs"]:
        lines += [f"## {r['model']} at {r['seconds']:g} s ({r['frames']} frames): "
                  f"{r['instructions_per_invoke'] / 1e6:.1f} M instructions per invoke, "
                  f"{r['delegate_partitions']} XNNPACK partition(s)", "",
                  "| operator | M instructions | share |", "|---|---:|---:|"]
        for k, v in r["by_operator"].items():
            lines.append(f"| {k} | {v / 1e6:.2f} | {100 * v / r['instructions_per_invoke']:.1f} % |")
        lines += ["", "| kernel | M instructions |", "|---|---:|"]
        lines += [f"| `{k['symbol']}` | {k['instructions_per_invoke'] / 1e6:.2f} |" for k in r["top_kernels"]]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--seconds", default="3,7")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        raise SystemExit("error: valgrind is not installed (apt install valgrind)")
    from sernet_edge.bench import runtime_version
    from sernet_edge.io import write_text
    models = args.models or [REPO / "models" / m for m in MODELS]
    runs = []
    with tempfile.TemporaryDirectory(prefix="sernet-cg-") as tmp:
        for model in models:
            for s in (float(x) for x in args.seconds.split(",")):
                frames = FRAMES.get(int(s)) if s in (3.0, 7.0) else None
                if frames is None:
                    from sernet_edge.features import FeatureConfig
                    frames = FeatureConfig(seconds=s).num_frames
                print(f"... {model.name} at {s:g} s", file=sys.stderr)
                runs.append({**profile(model, frames, Path(tmp)), "seconds": s})
    date = datetime.date.today().isoformat()
    result = {"date": date, "runtime": runtime_version(),
              "command": "python benchmarks/int8_profile.py " + " ".join(argv or sys.argv[1:]),
              "runs": runs}
    stem = args.out / f"int8-profile-{date}"
    write_text(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_text(stem.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

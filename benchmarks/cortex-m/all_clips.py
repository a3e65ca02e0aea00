#!/usr/bin/env python3
"""Run build.sh on every bundled clip for one model and summarise what the emulator measured.

    python benchmarks/cortex-m/all_clips.py /path/to/tflite-micro --model multi-micro \
        --out benchmarks/results/cortex-m-cmvn-2026-12-01.json

Each clip is one build.sh run (the TFLM objects are compiled once, in the TFLM tree, and
reused); the JSON keeps, per clip, the front end's and Invoke()'s SysTick ticks (1 tick = 40
instructions), the arena used, the label and whether the emulator's int8 output equalled
LiteRT's builtin kernels on the same input, plus the linker map's sizes of the first clip.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

INSTRUCTIONS_PER_TICK = 40


def run_clip(tflm: str, model: str, clip: str, out: Path) -> dict:
    env = {**os.environ, "OUT": str(out), "MODEL": model, "CLIP": clip}
    proc = subprocess.run(["sh", "benchmarks/cortex-m/build.sh", tflm], cwd=REPO, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"build.sh failed on {clip}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    emu = (out / "sernet.txt").read_text()
    check = (out / "check.txt").read_text()
    ticks = re.search(r"ticks: front_end (\d+) invoke (\d+)", emu)
    differ = re.search(r"(\d+) of (\d+) values differ from the numpy front end's \(at most (\d+) steps\)", check)
    return {
        "clip": clip,
        "front_end_ticks": int(ticks.group(1)), "invoke_ticks": int(ticks.group(2)),
        "arena_used_bytes": int(re.search(r"arena: (\d+) bytes used", emu).group(1)),
        "stack_peak_bytes": int(re.search(r"stack: (\d+) bytes peak", emu).group(1)),
        "label": re.search(r"^label: (\S+)", emu, re.M).group(1),
        "input_values_differing_from_numpy": int(differ.group(1)),
        "input_values": int(differ.group(2)), "largest_step": int(differ.group(3)),
        "output_equals_litert_builtin": "identical to LiteRT's builtin kernels" in check,
    }


def main() -> int:
    from sernet_edge.card import read_card
    from sernet_edge.runtime import bundled_clips, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tflm", help="a tflite-micro tree (see README.md)")
    ap.add_argument("--model", default="multi-micro")
    ap.add_argument("--out", type=Path, required=True, help="JSON to write (and .md beside it)")
    args = ap.parse_args()

    rows, sizes = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for clip in bundled_clips():
            row = run_clip(args.tflm, args.model, clip.name, Path(tmp))
            sizes = sizes or json.loads((Path(tmp) / "sernet.sizes.json").read_text())
            rows.append(row)
            print(f"{clip.name}: front end {row['front_end_ticks']} ticks, invoke {row['invoke_ticks']}, "
                  f"{row['label']}, output equal {row['output_equals_litert_builtin']}", flush=True)
    path = resolve_model(args.model)
    card = read_card(path)
    fe = [r["front_end_ticks"] * INSTRUCTIONS_PER_TICK for r in rows]
    inv = [r["invoke_ticks"] * INSTRUCTIONS_PER_TICK for r in rows]
    result = {
        "date": time.strftime("%Y-%m-%d"), "model": path.name,
        "weights_sha256": card.get("weights_sha256"), "features": card["features"],
        "emulator": "qemu-system-arm mps2-an386 (Cortex-M4F), -icount shift=0, 1 tick = 40 instructions",
        "machine": platform.platform(),
        "front_end_instructions": {"min": min(fe), "max": max(fe), "first_clip": fe[0]},
        "invoke_instructions": {"min": min(inv), "max": max(inv)},
        "sizes": sizes, "per_clip": rows,
        "all_outputs_equal_litert_builtin": all(r["output_equals_litert_builtin"] for r in rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    md = [f"# Cortex-M4 (emulated): {path.name}, every bundled clip, {result['date']}", "",
          f"`python benchmarks/cortex-m/all_clips.py TFLM --model {args.model}` ({result['emulator']}; "
          f"the toolchain and pinned sources of cortex-m-2026-12-01.md). Instructions are not cycles.", "",
          "| clip | front end M instr. | Invoke() M instr. | arena used B | label | input values off numpy | output = LiteRT builtin |",
          "|---|---:|---:|---:|---|---:|---|"]
    for r in rows:
        md.append(f"| {r['clip']} | {r['front_end_ticks'] * INSTRUCTIONS_PER_TICK / 1e6:.2f} | {r['invoke_ticks'] * INSTRUCTIONS_PER_TICK / 1e6:.2f} | "
                  f"{r['arena_used_bytes']:,} | {r['label']} | {r['input_values_differing_from_numpy']} of "
                  f"{r['input_values']:,} | {'yes' if r['output_equals_litert_builtin'] else 'NO'} |")
    md += ["", f"Flash {sizes['flash_bytes']:,} B, static RAM {sizes['ram_static_bytes']:,} B for the whole "
               "test firmware (linker map of the first clip; parts in the JSON)."]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return 0 if result["all_outputs_equal_litert_builtin"] else 1


if __name__ == "__main__":
    sys.exit(main())

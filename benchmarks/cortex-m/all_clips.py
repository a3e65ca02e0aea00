#!/usr/bin/env python3
"""Run build.sh on every bundled clip for one model and write what the emulator measured.

    python benchmarks/cortex-m/all_clips.py /path/to/tflite-micro --model multi-micro
    python benchmarks/cortex-m/all_clips.py /path/to/tflite-micro --model multi-micro --core m55
    python benchmarks/cortex-m/all_clips.py --markdown benchmarks/results/cortex-m-X.json  # its .md anew

Each clip is one build.sh run (the TFLM objects are compiled once, in the TFLM tree, and
reused). The result goes to benchmarks/results/cortex-m-<model>-<date>.json and .md (with
--core m55: cortex-m-<model>-m55-<date>; the date of the run, UTC; `-2`, `-3`, ... when that
name is taken: a committed result is never overwritten), or to --out, which must not exist. It
keeps, per clip, the front end's and Invoke()'s SysTick ticks (1 tick = 40 instructions on the
Cortex-M4 board, 31.25 on the Cortex-M55 one), the arena used, the stack peak, the int8
output and label, and whether that output equalled LiteRT's builtin kernels on the same input
tensor; the linker map's sizes of the first clip; what the classifier itself needs; the
toolchain, the emulator, the TFLM sources and the commit. Exit status 1 unless every check
passes (the files are written either way, and say so).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.result_files import new_stem  # noqa: E402

# Under -icount shift=0 an instruction takes 1 ns and SysTick counts the board's core clock:
# 25 MHz on mps2-an386, 32 MHz on mps3-an547 (main.cc's calibration line shows it).
CORES = {"m4": {"board": "mps2-an386", "cpu": "Cortex-M4F", "linker_script": "mps2_an386.ld",
                "instructions_per_tick": 40},
         "m55": {"board": "mps3-an547", "cpu": "Cortex-M55 (Helium)", "linker_script": "mps3_an547.ld",
                 "instructions_per_tick": 31.25}}
INSTRUCTIONS_PER_TICK = CORES["m4"]["instructions_per_tick"]   # set by main() for --core
RESULTS = REPO / "benchmarks" / "results"


def run_clip(tflm: str, model: str, clip: str, out: Path, core: str = "m4") -> dict:
    env = {**os.environ, "OUT": str(out), "MODEL": model, "CLIP": clip, "CORE": core}
    proc = subprocess.run(["sh", "benchmarks/cortex-m/build.sh", tflm], cwd=REPO, env=env,
                          capture_output=True, text=True)
    # build.sh exits 1 after writing check.txt when the output differs: recorded, not fatal
    if proc.returncode != 0 and not (out / "check.txt").is_file():
        raise SystemExit(f"error: build.sh failed on {clip}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    emu = (out / "sernet.txt").read_text()
    check = (out / "check.txt").read_text()
    host = (out / "host.txt").read_text()
    ticks = re.search(r"ticks: front_end (\d+) invoke (\d+)", emu)
    arena = re.search(r"arena: (\d+) bytes used of (\d+)", emu)
    differ = re.search(r"(\d+) of (\d+) values differ from the numpy front end's \(at most (\d+) steps\)", check)
    numpy_label = re.search(r"^host: litert_builtin int8 output .* label (\S+)$", host, re.M)
    return {
        "clip": clip,
        "front_end_ticks": int(ticks.group(1)), "invoke_ticks": int(ticks.group(2)),
        "arena_used_bytes": int(arena.group(1)), "arena_reserved_bytes": int(arena.group(2)),
        "stack_peak_bytes": int(re.search(r"stack: (\d+) bytes peak", emu).group(1)),
        "int8_output": [int(v) for v in re.search(r"^int8 output (.*)$", emu, re.M).group(1).split()],
        "label": re.search(r"^label: (\S+)", emu, re.M).group(1),
        "host_numpy_path_label": numpy_label.group(1) if numpy_label else None,
        "input_values_differing_from_numpy": int(differ.group(1)),
        "input_values": int(differ.group(2)), "largest_step": int(differ.group(3)),
        "calibration_ticks_per_2m_instructions": int(re.search(
            r"calibration: 2,000,000 instructions = (\d+) ticks", emu).group(1)),
        "output_equals_litert_builtin": "identical to LiteRT's builtin kernels" in check,
        "op_ticks": [(int(i), op, int(t)) for i, op, t in re.findall(r"^op (\d+) (\S+) (\d+)$", emu, re.M)],
        "profiler": profiler_line(emu),
    }


def profiler_line(emu: str) -> dict | None:
    m = re.search(r"^ops: (\d+) events, (\d+) ticks in kernels, (\d+) outside; profiler overhead "
                  r"(\d+) ticks per 1000 events$", emu, re.M)
    if not m:
        return None
    return {"events": int(m.group(1)), "kernel_ticks": int(m.group(2)), "outside_ticks": int(m.group(3)),
            "overhead_instructions_per_event": round(int(m.group(4)) * INSTRUCTIONS_PER_TICK / 1000, 1)}


def per_op_table(row: dict, graph: dict) -> dict:
    """The first clip's per-operator instructions beside the MACs graph.py counts for that op."""
    by_index = {r["index"]: r for r in graph["ops"]}
    ops = []
    for i, kind, t in row["op_ticks"]:
        g = by_index.get(i, {})
        macs = g.get("macs", 0) if g.get("op") == kind else None
        n = t * INSTRUCTIONS_PER_TICK
        ops.append({"index": i, "op": kind, "output_shape": g.get("output_shape"), "macs": macs,
                    "instructions": n, "instructions_per_mac": round(n / macs, 2) if macs else None})
    total = row["invoke_ticks"] * INSTRUCTIONS_PER_TICK
    by_kind: dict[str, dict] = {}
    for o in ops:
        k = by_kind.setdefault(o["op"], {"op": o["op"], "count": 0, "macs": 0, "instructions": 0})
        k["count"] += 1
        k["macs"] += o["macs"] or 0
        k["instructions"] += o["instructions"]
    for k in by_kind.values():
        k["share_of_invoke"] = round(k["instructions"] / total, 4)
        k["instructions_per_mac"] = round(k["instructions"] / k["macs"], 2) if k["macs"] else None
    p = row["profiler"] or {}
    return {"clip": row["clip"], "invoke_instructions": total,
            "outside_kernels_instructions": p.get("outside_ticks", 0) * INSTRUCTIONS_PER_TICK,
            "profiler_overhead_instructions_per_event": p.get("overhead_instructions_per_event"),
            "profiler_overhead_instructions_total": round(p.get("overhead_instructions_per_event", 0) * len(ops)),
            "note": f"each kernel's invoke timed by SysTick (1 tick = {INSTRUCTIONS_PER_TICK:g} "
                    f"instructions, so each figure is +-{INSTRUCTIONS_PER_TICK:g}); the events' overhead is inside Invoke()'s total; instructions are a lower "
                    "bound on cycles",
            "ops": ops, "by_kind": sorted(by_kind.values(), key=lambda k: -k["instructions"])}


def first_line(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
    except (OSError, IndexError):
        return None


def provenance(tflm: Path) -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout
    sources = tflm / "SOURCES.txt"     # written by tflm_tree.sh
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        # changed tracked files that go into the firmware or its host check
        "uncommitted_changes": [ln[3:] for ln in git("status", "--porcelain", "--untracked-files=no", "--",
                                                     "sernet_edge", "models", "benchmarks/cortex-m").splitlines()],
        "toolchain": first_line(["arm-none-eabi-gcc", "--version"]),
        "emulator": first_line(["qemu-system-arm", "--version"]),
        "tflm_sources": dict(ln.split(" ", 1) for ln in sources.read_text().splitlines() if " " in ln)
                        if sources.is_file() else "not recorded (tree not made by tflm_tree.sh)",
        "host": platform.platform(),
    }


def front_end_sha256(gen: Path) -> str:
    """The C front end export-c generated for this model (header then source): the figures are
    this code's, and tests/test_doc_tables.py regenerates it to see whether they still are."""
    return hashlib.sha256(b"".join((gen / n).read_bytes()
                                   for n in ("sernet_frontend.h", "sernet_frontend.c"))).hexdigest()


def harness(core: str = "m4") -> tuple[str, ...]:
    return ("build.sh", "main.cc", "startup.c", CORES[core]["linker_script"], "map_sizes.py")


def harness_sha256(core: str = "m4") -> str:
    """The firmware harness and its build (flags, main.cc's code, the linker script, how the map is
    split into parts): flash, RAM and instructions are this harness's too."""
    here = Path(__file__).resolve().parent
    return hashlib.sha256(b"".join((here / n).read_bytes() for n in harness(core))).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def summarise(rows: list[dict], sizes: dict, card: dict, macs: int) -> dict:
    fe = [r["front_end_ticks"] * INSTRUCTIONS_PER_TICK for r in rows]
    inv = [r["invoke_ticks"] * INSTRUCTIONS_PER_TICK for r in rows]
    parts = sizes["parts"]

    def total(name, *kinds):
        return sum(v for k, v in parts.get(name, {}).items() if k in kinds)

    seconds = card["features"]["seconds"]
    flash = {"model": total("model array", "rodata"),
             "tflm": total("TFLM (framework + op kernels)", "code", "rodata", "data"),
             "cmsis_nn": total("CMSIS-NN", "code", "rodata", "data"),
             "front_end": total("front end", "code", "rodata", "data")}
    ram = {"arena_used": max(r["arena_used_bytes"] for r in rows),
           "tflm_static": total("TFLM (framework + op kernels)", "bss", "data"),
           "front_end_work": total("front end work buffer", "bss"),
           "stack_peak": max(r["stack_peak_bytes"] for r in rows),
           "audio_window_int16": total("audio window (int16)", "bss")}
    assert ram["audio_window_int16"] == int(round(seconds * card["features"]["sample_rate"])) * 2
    return {
        "front_end_instructions": {"min": min(fe), "max": max(fe), "first_clip": fe[0]},
        "invoke_instructions": {"min": min(inv), "max": max(inv)},
        "total_instructions_first_clip": fe[0] + inv[0],
        "network_macs": macs,
        "invoke_instructions_per_mac": round(inv[0] / macs, 2),
        "arena_used_bytes": ram["arena_used"],
        "arena_reserved_bytes": rows[0]["arena_reserved_bytes"],
        "arena_host_card_bytes": (card.get("micro") or {}).get("arena_bytes"),
        "stack_peak_bytes": ram["stack_peak"],
        "classifier_flash_bytes": {**flash, "total": sum(flash.values()),
                                   "note": "without the clip, printf/semihosting, newlib and startup"},
        "classifier_ram_bytes": {**ram, "total": sum(ram.values()),
                                 "note": "the front end runs in place: CMVN's coefficient rows "
                                         "go into the audio window it has read"},
    }


def markdown(r: dict) -> str:
    s = r["summary"]
    checks = r["checks"]
    failed = [k for k, v in checks.items() if not v]
    verdict = "all checks pass" if not failed else "FAILED: " + ", ".join(failed)
    p = r["provenance"]
    dirty = p["uncommitted_changes"]
    cpu = CORES[r.get("core", "m4")]["cpu"]
    ipt = CORES[r.get("core", "m4")]["instructions_per_tick"]
    md = [f"# {cpu} (emulated): {r['model']}, every bundled clip, {r['date']}", "",
          f"`{r['command']}`: the generated C front end and the full-int8 network under TensorFlow "
          f"Lite Micro with CMSIS-NN kernels, one {r['features']['seconds']:g} s window per clip, on "
          f"{r['emulator']}. Verdict: **{verdict}**.", "",
          f"Commit `{p['commit']}`" + (f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")
          + f"; {p['toolchain']}; {p['emulator']}; TFLM sources: "
          + (", ".join(f"{k} {v[:12] if re.fullmatch('[0-9a-f]{40}', v) else v}" for k, v in p["tflm_sources"].items())
             if isinstance(p["tflm_sources"], dict) else p["tflm_sources"]) + "; CMSIS-NN compiled with "
          + f"`{r.get('cmsis_nn_optimization', '-Os')}`.", "",
          "**An emulator's instruction count is not a cycle count**: no pipeline, wait states, caches "
          + ("or FPU latencies; on a Cortex-M4 (no instruction under one cycle) it is a lower bound on cycles."
             if r.get("core", "m4") == "m4" else
             "or FPU and vector latencies. On a Cortex-M55 it bounds cycles neither way: a Helium "
             "instruction works on 128 bits in two beats of 64, which successive instructions can overlap."), "",
          "## Checks", "", "| check | result |", "|---|---|"]
    md += [f"| {k} | {'pass' if v else 'FAIL'} |" for k, v in checks.items()]
    md += ["", "## Per clip", "",
           "| clip | front end M instr. | Invoke() M instr. | arena used B | label (host numpy path) | "
           "input values off numpy | output = LiteRT builtin |",
           "|---|---:|---:|---:|---|---:|---|"]
    for c in r["per_clip"]:
        md.append(f"| {c['clip']} | {c['front_end_ticks'] * ipt / 1e6:.2f} | "
                  f"{c['invoke_ticks'] * ipt / 1e6:.2f} | {c['arena_used_bytes']:,} | "
                  f"{c['label']} ({c['host_numpy_path_label']}) | {c['input_values_differing_from_numpy']} of "
                  f"{c['input_values']:,} | {'yes' if c['output_equals_litert_builtin'] else 'NO'} |")
    po = r.get("per_op")
    if po and po["ops"]:
        md += ["", f"## Per operator ({po['clip']})", "",
               f"Each kernel's `invoke` timed by SysTick (1 tick = {ipt:g} instructions: "
               f"each figure is +-{ipt:g}); "
               f"the interpreter's own work between kernels {po['outside_kernels_instructions']:,} "
               f"instructions; the profiler's overhead about {po['profiler_overhead_instructions_per_event']:g} "
               f"instructions per operator ({po['profiler_overhead_instructions_total']:,} in all), inside "
               f"`Invoke()`'s {po['invoke_instructions'] / 1e6:.2f} M. MACs as `sernet_edge/bench/graph.py` "
               "counts them. " + ("Instructions are a lower bound on cycles." if r.get("core", "m4") == "m4"
                                  else "As above, on this core instructions bound cycles neither way."), "",
               "| op kind | count | MACs | M instr. | share of Invoke() | instr./MAC |", "|---|---:|---:|---:|---:|---:|"]
        for k in po["by_kind"]:
            md.append(f"| {k['op']} | {k['count']} | {k['macs']:,} | {k['instructions'] / 1e6:.2f} | "
                      f"{100 * k['share_of_invoke']:.1f} % | {k['instructions_per_mac'] or ''} |")
        md += ["", "| # | op | output | MACs | M instr. | instr./MAC |", "|---:|---|---|---:|---:|---:|"]
        for o in po["ops"]:
            shape = "x".join(map(str, o["output_shape"])) if o["output_shape"] else ""
            md.append(f"| {o['index']} | {o['op']} | {shape} | {(o['macs'] or 0):,} | "
                      f"{o['instructions'] / 1e6:.3f} | {o['instructions_per_mac'] or ''} |")
    f, m = s["classifier_flash_bytes"], s["classifier_ram_bytes"]
    z = r["sizes"]
    md += ["", "## Memory", "",
           f"Whole test firmware (linker map of the first clip): flash {z['flash_bytes']:,} B, static RAM "
           f"{z['ram_static_bytes']:,} B. The classifier itself: flash {f['total']:,} B (model {f['model']:,}, "
           f"TFLM {f['tflm']:,}, CMSIS-NN {f['cmsis_nn']:,}, front end {f['front_end']:,}); RAM {m['total']:,} B "
           f"(arena used {m['arena_used']:,}, TFLM static {m['tflm_static']:,}, front-end work buffer "
           f"{m['front_end_work']:,}, stack peak {m['stack_peak']:,}, the audio window "
           f"{m['audio_window_int16']:,}). Arena reserved {s['arena_reserved_bytes']:,} B; the card's host "
           f"figure {s['arena_host_card_bytes']:,} B. Every part: the JSON.", ""]
    return "\n".join(md) + "\n"


def main() -> int:
    from sernet_edge.bench.graph import analyse
    from sernet_edge.card import read_card
    from sernet_edge.errors import SernetError
    from sernet_edge.runtime import BUNDLED, bundled_clips, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tflm", type=Path, nargs="?",
                    help="a tflite-micro tree (see README.md; tflm_tree.sh makes one)")
    ap.add_argument("--model", default="multi-micro", help="a bundled model's name or a .tflite path with its card")
    ap.add_argument("--out", type=Path, help="JSON to write (.md beside it); default "
                    "benchmarks/results/cortex-m-<model>[-m55]-<date>.json, never overwritten")
    ap.add_argument("--core", choices=sorted(CORES), default="m4",
                    help="m4: QEMU mps2-an386 (Cortex-M4F); m55: mps3-an547 (Cortex-M55, Helium)")
    ap.add_argument("--markdown", type=Path, nargs="+", metavar="JSON",
                    help="only write each result's .md anew from its JSON (the JSON is not touched)")
    args = ap.parse_args()
    if args.markdown:
        for j in args.markdown:
            r = json.loads(j.read_text())
            write_atomic(j.with_suffix(".md"), markdown({**r, "date": r["date_utc"]}))
        return 0
    if args.tflm is None:
        ap.error("a tflite-micro tree is needed (or --markdown)")
    global INSTRUCTIONS_PER_TICK
    core = CORES[args.core]
    INSTRUCTIONS_PER_TICK = core["instructions_per_tick"]
    if not (args.tflm / "tensorflow" / "lite" / "micro").is_dir():
        raise SystemExit(f"error: {args.tflm}: not a tflite-micro tree (no tensorflow/lite/micro)")
    try:
        path = resolve_model(args.model)
        card = read_card(path)
    except SernetError as e:
        raise SystemExit(f"error: {e}") from None
    short = next((k for k, v in BUNDLED.items() if v == path.name), path.stem)
    stem = new_stem(f"cortex-m-{short}" if args.core == "m4" else f"cortex-m-{short}-{args.core}", args.out)
    model_arg = args.model if args.model in BUNDLED else str(path.resolve())

    rows, sizes, fe_sha = [], None, None
    with tempfile.TemporaryDirectory() as tmp:
        for clip in bundled_clips():
            row = run_clip(str(args.tflm.resolve()), model_arg, clip.name, Path(tmp), args.core)
            sizes = sizes or json.loads((Path(tmp) / "sernet.sizes.json").read_text())
            fe_sha = fe_sha or front_end_sha256(Path(tmp) / "gen")
            rows.append(row)
            print(f"{clip.name}: front end {row['front_end_ticks']} ticks, invoke {row['invoke_ticks']}, "
                  f"{row['label']}, output equal {row['output_equals_litert_builtin']}", flush=True)
    graph = analyse(path)
    checks = {
        "outputs_equal_litert_builtin": all(r["output_equals_litert_builtin"] for r in rows),
        "labels_equal_host_numpy_path": all(r["label"] == r["host_numpy_path_label"] for r in rows),
        "arena_fits_reserved": all(r["arena_used_bytes"] <= r["arena_reserved_bytes"] for r in rows),
        "ticks_per_instruction_as_the_board_clock": all(
            abs(r["calibration_ticks_per_2m_instructions"] * INSTRUCTIONS_PER_TICK / 2e6 - 1) < 0.001
            for r in rows),
    }
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "what": "sernet-edge export-c front end + the full-int8 network under TensorFlow Lite Micro "
                f"(CMSIS-NN kernels), one window per bundled clip, on QEMU {core['board']} ({core['cpu']}, emulated)",
        "command": f"python benchmarks/cortex-m/all_clips.py TFLM --model {args.model}"
                   + (f" --core {args.core}" if args.core != "m4" else ""),
        "core": args.core,
        "model": path.name, "weights_sha256": card.get("weights_sha256"), "file_bytes": path.stat().st_size,
        "features": card["features"], "ops": card.get("ops"), "front_end_sha256": fe_sha,
        "harness_sha256": harness_sha256(args.core),
        "emulator": f"qemu-system-arm {core['board']} ({core['cpu']}), -icount shift=0, "
                    f"1 tick = {INSTRUCTIONS_PER_TICK:g} instructions",
        "provenance": provenance(args.tflm),
        "cmsis_nn_optimization": os.environ.get("NN_OPT") or "-O2",  # build.sh's default
        "summary": summarise(rows, sizes, card, graph["macs"]),
        "per_op": per_op_table(rows[0], graph),
        "sizes": sizes, "per_clip": rows, "checks": checks, "ok": all(checks.values()),
    }
    result["date_utc"] = result["date"][:10]
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(stem.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    write_atomic(stem.with_suffix(".md"), markdown({**result, "date": result["date_utc"]}))
    print(f"{stem}.json: {'all checks pass' if result['ok'] else 'FAILED'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Ethos-U55 estimates: each microcontroller model compiled with Arm's Vela, as Vela estimates it.

    pip install -e '.[npu]'                       # ethos-u-vela
    python benchmarks/ethos_u.py                  # the family, U55-128 and U55-256
    python benchmarks/ethos_u.py --model multi-xs-micro --accelerator ethos-u55-64

Boards with an Arm Ethos-U55 NPU beside a Cortex-M55 (Himax WiseEye2 on Seeed's Grove Vision
AI V2, Alif Ensemble) run a model that Vela has compiled: the operators it can map go to the
NPU as one custom operator, the others stay on the CPU (TFLM's kernels). For each full-int8
`-micro` file and each accelerator this runs `vela` with Arm's own `Arm/vela.ini` system
config (`Ethos_U55_High_End_Embedded`: NPU at 500 MHz, SRAM on AXI0, flash on AXI1 at 1/8 of
its clock) and memory mode `Shared_Sram` (the arena in SRAM, weights and command stream in
flash), and keeps Vela's summary: estimated NPU cycles per inference (one 3 s window), SRAM
(arena) and flash used, the operators left to the CPU, the compiled file's size.

These are **Vela's estimates, not measurements**: its performance model of the NPU and the
memory system named above, not a board. The CPU's share (the front end, TFLM's interpreter,
the ethos-u driver) is not in them.

Writes benchmarks/results/ethos-u55-<date>.json and .md (the day, UTC; `-2`, `-3`, ... when
that name is taken: a committed result is never overwritten), or --out.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.result_files import new_stem  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
FAMILY = ("multi-micro", "multi-s-micro", "multi-xs-micro")
ACCELERATORS = ("ethos-u55-128", "ethos-u55-256")
CONFIG = "Arm/vela.ini"                    # shipped inside the ethos-u-vela package
SYSTEM_CONFIG = "Ethos_U55_High_End_Embedded"
MEMORY_MODE = "Shared_Sram"
# what the summary CSV calls the figures kept
CSV_FIELDS = {"cycles_total": float, "cycles_npu": float, "cycles_sram_access": float,
              "cycles_off_chip_flash_access": float, "inference_time": float, "core_clock": float,
              "sram_memory_used": float, "off_chip_flash_memory_used": float, "nn_macs": float,
              "total_original_weights": float, "total_npu_encoded_weights": float,
              "sram_total_bytes": float, "off_chip_flash_total_bytes": float}


def vela_exe() -> str:
    exe = Path(sys.executable).with_name("vela")
    found = str(exe) if exe.exists() else shutil.which("vela")
    if not found:
        raise SystemExit("error: vela not found: pip install -e '.[npu]' (the ethos-u-vela package)")
    return found


def vela_version(vela: str) -> str:
    return subprocess.run([vela, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def config_section(name: str) -> dict:
    """The system config and memory mode as Vela's own .ini file states them."""
    import configparser

    import ethosu
    ini = Path(list(ethosu.__path__)[0]) / "config_files" / CONFIG
    cp = configparser.ConfigParser()
    cp.read(ini)
    return dict(cp[name])


def compile_one(vela: str, model: Path, accelerator: str, out: Path) -> dict:
    cmd = [vela, str(model), "--accelerator-config", accelerator, "--config", CONFIG,
           "--system-config", SYSTEM_CONFIG, "--memory-mode", MEMORY_MODE,
           "--output-dir", str(out), "--show-cpu-operations"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: vela failed on {model.name} for {accelerator}:\n{p.stdout}{p.stderr}")
    text = p.stdout
    csv_path = next(out.glob(f"{model.stem}_summary_*.csv"))
    row = next(csv.DictReader(csv_path.open()))
    figures = {k: conv(row[k]) for k, conv in CSV_FIELDS.items() if k in row}
    cpu_ops = re.findall(r"^\s*CPU: (\w+) = ", text, re.M)
    npu_ops = re.findall(r"^\s*NPU: (\w+) = ", text, re.M)
    m = re.search(r"CPU operators = (\d+)", text)
    n = re.search(r"NPU operators = (\d+)", text)
    compiled = out / f"{model.stem}_vela.tflite"
    return {
        "accelerator": accelerator,
        "command": " ".join(["vela", model.name] + cmd[2:-3] + ["--show-cpu-operations"]),
        "cycles_per_window": int(figures["cycles_total"]),
        "npu_cycles": int(figures["cycles_npu"]),
        "sram_access_cycles": int(figures["cycles_sram_access"]),
        "flash_access_cycles": int(figures["cycles_off_chip_flash_access"]),
        "ms_per_window_at_config_clock": round(1e3 * figures["inference_time"], 4),
        "config_clock_hz": figures["core_clock"],
        "sram_used_bytes": int(round(figures["sram_memory_used"] * 1024)),
        "flash_used_bytes": int(round(figures["off_chip_flash_memory_used"] * 1024)),
        "vela_macs": int(figures["nn_macs"]),
        "weights_bytes": int(figures["total_original_weights"]),
        "npu_encoded_weights_bytes": int(figures["total_npu_encoded_weights"]),
        "sram_traffic_bytes": int(figures["sram_total_bytes"]),
        "flash_traffic_bytes": int(figures["off_chip_flash_total_bytes"]),
        "cpu_operators": int(m.group(1)) if m else len(cpu_ops),
        "npu_operators": int(n.group(1)) if n else len(npu_ops),
        "cpu_operator_kinds": sorted(set(cpu_ops)),
        "compiled_file_bytes": compiled.stat().st_size,
        "compiled_file_sha256": hashlib.sha256(compiled.read_bytes()).hexdigest(),
    }


def markdown(r: dict) -> str:
    md = [f"# Ethos-U55 estimates (Vela {r['vela_version']}), {r['date_utc']}", "",
          f"`{r['command']}`. **Estimates, not measurements**: Vela's performance model of the NPU "
          f"and of the memory system its config names, not a board. System config "
          f"`{r['system_config']}` from Vela's `{r['config']}` (NPU clock "
          f"{r['config_clock_hz'] / 1e6:g} MHz; weights and command stream in off-chip flash at "
          f"{float(r['system_config_settings'].get('offchipflash_clock_scale', 'nan')):g} of that clock), memory mode "
          f"`{r['memory_mode']}`. One inference is one 3 s window; the front end and the CPU's "
          "own work (TFLM, the ethos-u driver) are not included.", "",
          f"Commit `{r['commit']}`" + (" with uncommitted changes" if r["uncommitted_changes"] else "") + ".", "",
          "| model | accelerator | cycles per window | ms at the config's clock | SRAM used | flash used "
          "| operators on the CPU | compiled file |",
          "|---|---|---:|---:|---:|---:|---|---:|"]
    for m in r["models"]:
        for a in m["runs"]:
            cpu = (f"{a['cpu_operators']} ({', '.join(a['cpu_operator_kinds'])})" if a["cpu_operators"]
                   else f"none (Vela's {a['npu_operators']} all on the NPU)")
            md.append(f"| `{m['short']}` | {a['accelerator']} | {a['cycles_per_window']:,} | "
                      f"{a['ms_per_window_at_config_clock']:.3f} | {a['sram_used_bytes']:,} B | "
                      f"{a['flash_used_bytes']:,} B | {cpu} | {a['compiled_file_bytes']:,} B |")
    md += ["", "Each run's NPU, SRAM-access and flash-access cycles, the traffic and the compiled "
           "file's hash: the JSON.", ""]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    from sernet_edge.card import read_card
    from sernet_edge.runtime import BUNDLED, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="a bundled model's name or a full-int8 "
                    ".tflite (repeatable; default: the -micro family)")
    ap.add_argument("--accelerator", action="append", help="Vela's --accelerator-config "
                    "(repeatable; default: ethos-u55-128 and ethos-u55-256)")
    ap.add_argument("--out", type=Path, help="JSON to write (.md beside it)")
    args = ap.parse_args(argv)
    models = args.model or list(FAMILY)
    accelerators = args.accelerator or list(ACCELERATORS)
    vela = vela_exe()
    stem = new_stem("ethos-u55", args.out)

    def git(*a):
        return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True).stdout.strip()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            path = resolve_model(name)
            card = read_card(path)
            short = next((k for k, v in BUNDLED.items() if v == path.name), path.stem)
            runs = []
            for acc in accelerators:
                out = Path(tmp) / f"{short}-{acc}"
                run = compile_one(vela, path, acc, out)
                runs.append(run)
                print(f"{short} {acc}: {run['cycles_per_window']:,} cycles, SRAM {run['sram_used_bytes']:,} B, "
                      f"flash {run['flash_used_bytes']:,} B, CPU ops {run['cpu_operators']}", flush=True)
            rows.append({"short": short, "model": path.name, "file_bytes": path.stat().st_size,
                         "weights_sha256": card.get("weights_sha256"),
                         "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "runs": runs})
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result = {
        "date": date, "date_utc": date[:10],
        "what": "Vela's estimates for the Ethos-U55 (not measurements): cycles per 3 s window, SRAM, "
                "flash, operators left to the CPU",
        "command": "python benchmarks/ethos_u.py"
                   + "".join(f" --model {m}" for m in (args.model or []))
                   + "".join(f" --accelerator {a}" for a in (args.accelerator or [])),
        "vela_version": vela_version(vela), "config": CONFIG, "system_config": SYSTEM_CONFIG,
        "memory_mode": MEMORY_MODE,
        "system_config_settings": config_section(f"System_Config.{SYSTEM_CONFIG}"),
        "memory_mode_settings": config_section(f"Memory_Mode.{MEMORY_MODE}"),
        "config_clock_hz": rows[0]["runs"][0]["config_clock_hz"],
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "models": rows,
    }
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(f"{stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

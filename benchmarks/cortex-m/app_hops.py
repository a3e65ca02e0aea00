#!/usr/bin/env python3
"""The streaming app (`export-c --app`) on the emulated Cortex-M, measured hop by hop.

    python benchmarks/cortex-m/app_hops.py ~/tflm --model multi-xs-micro            # hop 0.5 s and 1 s
    python benchmarks/cortex-m/app_hops.py ~/tflm --model multi-xs-micro --core m55 --hop 1

For each hop length, app.sh builds the app for the board and runs the noisy stream of
benchmarks/stream_app.py through it (the 7 bundled clips with 1.5 s pauses, under noise 20 dB
below the speech: 40 s, every hop kind: silence, listening, answers). Every hop's label and
smoothed probabilities are compared with listen's pipeline on the host (LiteRT's builtin
kernels, `stream_app.listen_events_builtin`), and its instructions are kept: gate, front end,
Invoke(). From them: instructions per second of audio, the CPU share at named clocks, the
whole app's flash and RAM (linker map, stack peak), and the time from the end of speech to
its answer (the wait for the hop to end, at most a hop, plus that hop's work at the clock).

Writes benchmarks/results/cortex-m-app-<model>[-m55]-<date>.json and .md (never overwritten),
or --out. Exit status 1 unless every hop agrees with the host.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "benchmarks"))

from all_clips import CORES, provenance, write_atomic  # noqa: E402
from benchmarks.result_files import new_stem  # noqa: E402

# named parts and their clocks (the issue's): the CPU share of real time at each
CLOCKS = {"m4": [("nRF52840", 64e6), ("RP2350 (Cortex-M33)", 150e6), ("STM32F4", 168e6),
                 ("STM32H7 (Cortex-M7)", 480e6)],
          "m55": [("Alif Ensemble E3 HE", 160e6), ("Himax WiseEye2 (HX6538)", 400e6),
                  ("Alif Ensemble E3 HP", 400e6)]}
LINE = re.compile(r"^hop (\d+) end (\d+) label (\S+) top (-?\d+) conf (\S+) probs ((?:\S+ ){%d})out "
                  r"((?:-?\d+ ){%d})level (\S+) gated (\d) ticks (\d+) (\d+) (\d+)$")


def parse(text: str, labels: int) -> tuple[list[dict], dict]:
    line = re.compile(LINE.pattern % (labels, labels))
    hops, info = [], {}
    for raw in text.splitlines():
        m = line.match(raw.strip())
        if m:
            probs = [float(v) for v in m.group(6).split()]
            hops.append({"hop": int(m.group(1)), "end_sample": int(m.group(2)), "label": m.group(3),
                         "top": int(m.group(4)), "confidence": float(m.group(5)),
                         "probabilities": probs, "output": [int(v) for v in m.group(7).split()],
                         "level_dbfs": float(m.group(8)), "gated": m.group(9) == "1",
                         "ticks": {"gate": int(m.group(10)), "front_end": int(m.group(11)),
                                   "invoke": int(m.group(12))}})
        elif raw.startswith("app: "):
            info["arena_used_bytes"] = int(re.search(r"arena (\d+) of", raw).group(1))
            info["arena_reserved_bytes"] = int(re.search(r"of (\d+)", raw).group(1))
            info["app_state_bytes"] = int(re.search(r"state (\d+)", raw).group(1))
        elif raw.startswith("calibration: "):
            info["calibration_ticks"] = int(raw.split("=")[1].split()[0])
        elif raw.startswith("stack: "):
            info["stack_peak_bytes"] = int(raw.split()[1])
        elif raw.startswith("done: "):
            info["dropped_samples"] = int(re.search(r"(\d+) samples dropped", raw).group(1))
    for h in hops:   # without inference the app prints zeros; listen's JSON has nulls
        if h["label"] in ("silence", "listening"):
            h["probabilities"] = h["confidence"] = h["output"] = None
    return hops, info


def run_hop(tflm: Path, model: str, core: str, hop: float, raw: Path, out: Path, rebuild: bool) -> str:
    env = dict(os.environ, OUT=str(out), MODEL=model, CORE=core, HOP=repr(hop), APP_REBUILD="1" if rebuild else "0")
    subprocess.run(["sh", str(HERE / "app.sh"), str(tflm), str(raw)], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return (out / "app.txt").read_text()


def summarise(hops: list[dict], seconds: float, hop_s: float, ipt: float, core: str) -> dict:
    def instr(h, k):
        return h["ticks"][k] * ipt
    inferred = [h for h in hops if h["probabilities"] is not None]
    per = {k: sum(instr(h, k) for h in hops) for k in ("gate", "front_end", "invoke")}
    total = sum(per.values())
    worst_hop = max((sum(instr(h, k) for k in ("gate", "front_end", "invoke")) for h in hops), default=0)
    full = [h for h in inferred if h["ticks"]["front_end"] and h is not None]
    answer = {k: float(np.median([instr(h, k) for h in inferred])) if inferred else 0.0
              for k in ("gate", "front_end", "invoke")}
    answer_total = sum(answer.values())
    return {
        "hops": len(hops), "hops_with_inference": len(inferred), "seconds_of_audio": seconds,
        "instructions": {k: int(v) for k, v in per.items()}, "instructions_total": int(total),
        "instructions_per_second_of_audio": {k: v / seconds for k, v in per.items()},
        "instructions_per_second_of_audio_total": total / seconds,
        "median_answering_hop": {k: int(v) for k, v in answer.items()},
        "median_answering_hop_total": int(answer_total),
        "silent_hop_instructions": int(np.median([instr(h, "gate") for h in hops if h["gated"]]))
        if any(h["gated"] for h in hops) else None,
        "worst_hop_instructions": int(worst_hop),
        # answering every hop: one answer's work per hop, the CPU's share at each clock
        "cpu_share_answering_every_hop": {name: answer_total / (hz * hop_s) for name, hz in CLOCKS[core]},
        "cpu_share_this_stream": {name: total / (hz * seconds) for name, hz in CLOCKS[core]},
        # end of speech -> its answer: up to one hop of waiting, then the answering hop's work
        "end_of_speech_to_answer_s": {name: {"best": answer_total / hz, "worst": hop_s + answer_total / hz}
                                      for name, hz in CLOCKS[core]},
        "front_end_hops_full_window": sum(1 for h in full),
    }


def compare_hops(app: list[dict], ref: list[dict], step: float) -> dict:
    from stream_app import compare
    return compare(app, ref, step)


def markdown(r: dict) -> str:
    cpu = CORES[r["core"]]["cpu"]
    md = [f"# The streaming app on the {cpu} (emulated): {r['short']}, {r['date_utc']}", "",
          f"`{r['command']}`: `sernet-edge export-c --app` built for QEMU {CORES[r['core']]['board']} with TFLite "
          f"Micro and CMSIS-NN (`{r['cmsis_nn_optimization']}`), the noisy stream of `benchmarks/stream_app.py` "
          f"({r['audio']['seconds']:g} s: the 7 bundled clips, pauses, noise {r['audio']['noise_below_speech_db']:g} dB "
          f"below the speech) read by semihosting in 512-sample blocks. Verdict: **"
          + ("FAILED" if not r["ok"] else "every hop agrees with listen" if r.get("every_hop_label_equal", True)
             else "every hop agrees with listen but the ties named below") + "** "
          "(labels, gate, probabilities within one int8 step of listen's pipeline on the host with LiteRT's builtin kernels).", "",
          *([f"Hops whose label differs from listen's where listen's own answer is a tie within one int8 step "
             f"(its confidence at the threshold, or its top two classes): "
             + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in r["labels_differing_only_at_ties"].items())
             + ". The probabilities there are within one step, as everywhere.", ""]
            if r.get("labels_differing_only_at_ties") else []),
          f"Commit `{r['provenance']['commit']}`" + (" with uncommitted changes" if r['provenance']['uncommitted_changes'] else "")
          + f"; {r['provenance']['toolchain']}; {r['emulator']}.", "",
          "**Instructions, not cycles** (see `benchmarks/cortex-m/README.md`); the front end runs on the whole "
          "speech window every answering hop (no incremental front end yet).", "",
          "| hop | hops (answered) | gate + front end + Invoke() per s of audio | answering hop: front end + Invoke() | "
          + " | ".join(f"CPU at {n} ({hz / 1e6:g} MHz), answering every hop" for n, hz in CLOCKS[r['core']])
          + " | labels = listen | max prob. diff (steps) |",
          "|---:|---:|---:|---:|" + "---:|" * len(CLOCKS[r['core']]) + "---|---:|"]
    for run in r["runs"]:
        s, c = run["summary"], run["comparison"]
        a = s["median_answering_hop"]
        md.append(f"| {run['hop_s']:g} s | {s['hops']} ({s['hops_with_inference']}) | "
                  f"{s['instructions_per_second_of_audio_total'] / 1e6:.1f} M | "
                  f"{a['front_end'] / 1e6:.1f} M + {a['invoke'] / 1e6:.1f} M | "
                  + " | ".join(f"{100 * v:.0f} %" for v in s["cpu_share_answering_every_hop"].values())
                  + f" | {'yes' if not c['labels_differ_at'] and c['hops'] == c['app_hops'] else 'NO'} | "
                  f"{c['max_probability_difference_steps']:.2f} |")
    run = r["runs"][0]
    z = run["sizes"]
    md += ["", "## Memory", "",
           f"Whole app (linker map): flash {z['flash_bytes']:,} B, static RAM {z['ram_static_bytes']:,} B, "
           f"stack peak {run['info'].get('stack_peak_bytes', 0):,} B: RAM in all "
           f"{z['ram_static_bytes'] + run['info'].get('stack_peak_bytes', 0):,} B. The app's state "
           f"(`sernet_app`: FIFO, window, front-end work buffer, input tensor, history) "
           f"{run['info']['app_state_bytes']:,} B; arena {run['info']['arena_used_bytes']:,} B used of "
           f"{run['info']['arena_reserved_bytes']:,} B reserved.", "",
           "## End of speech to its answer", "",
           "Up to one hop of waiting for the hop to end, then the answering hop's work at the clock:", "",
           "| hop | " + " | ".join(f"{n} ({hz / 1e6:g} MHz)" for n, hz in CLOCKS[r['core']]) + " |",
           "|---:|" + "---:|" * len(CLOCKS[r['core']])]
    for run in r["runs"]:
        e = run["summary"]["end_of_speech_to_answer_s"]
        md.append(f"| {run['hop_s']:g} s | " + " | ".join(f"{v['best']:.2f}-{v['worst']:.2f} s" for v in e.values()) + " |")
    md += ["", "Every hop's ticks, label and probabilities, and the host's: the JSON.", ""]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    import soundfile as sf

    import stream_app
    from sernet_edge.card import read_card
    from sernet_edge.export_c import app_settings
    from sernet_edge.runtime import BUNDLED, bundled_clips, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tflm", type=Path)
    ap.add_argument("--model", default="multi-xs-micro")
    ap.add_argument("--core", choices=sorted(CORES), default="m4")
    ap.add_argument("--hop", type=float, action="append", help="seconds (repeatable; default 0.5 and 1)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--build", type=Path, help="build folder, kept between runs (default: a temporary one); "
                    "one per model and core saves rebuilding CMSIS-NN")
    args = ap.parse_args(argv)
    path = resolve_model(args.model)
    card = read_card(path)
    short = next((k for k, v in BUNDLED.items() if v == path.name), path.stem)
    ipt = CORES[args.core]["instructions_per_tick"]
    rate = int(card["features"]["sample_rate"])
    step = float(card["output"]["scale"])
    stem = new_stem(f"cortex-m-app-{short}" if args.core == "m4" else f"cortex-m-app-{short}-{args.core}", args.out)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = bundled_clips()
        stream = stream_app.noisy_stream(clips, rate)
        sf.write(tmp / "noisy.wav", stream, rate, subtype="PCM_16")
        raw = tmp / "noisy.raw"
        stream.astype("<i2").tofile(raw)
        build = args.build.resolve() if args.build else tmp / "build"
        build.mkdir(parents=True, exist_ok=True)
        for k, hop in enumerate(args.hop or [0.5, 1.0]):
            text = run_hop(args.tflm, args.model, args.core, hop, raw, build, rebuild=k == 0)
            hops, info = parse(text, len(card["labels"]))
            ref = stream_app.listen_events_builtin(args.model, tmp / "noisy.wav", app_settings(hop=hop))
            comparison = compare_hops(hops, ref, step)
            sizes = json.loads((build / "app.sizes.json").read_text())
            summary = summarise(hops, len(stream) / rate, hop, ipt, args.core)
            runs.append({"hop_s": hop, "settings": app_settings(hop=hop), "info": info, "sizes": sizes,
                         "summary": summary, "comparison": comparison, "per_hop": hops,
                         "host_labels": [e["label"] for e in ref],
                         "host_confidences": [e["confidence"] for e in ref]})
            print(f"hop {hop:g} s: {summary['hops']} hops, {summary['instructions_per_second_of_audio_total'] / 1e6:.1f} M "
                  f"instructions per second of audio, labels equal {not comparison['labels_differ_at']}, "
                  f"max diff {comparison['max_probability_difference_steps']:.2f} steps", flush=True)
    # reported beside the checks, not instead of one: a label that differs where listen's own
    # answer is a tie within one int8 step (its confidence at the threshold, or two classes)
    ties = {f"hop {r['hop_s']:g} s": r["comparison"]["labels_differ_at"] for r in runs
            if r["comparison"]["labels_differ_at"] and r["comparison"]["labels_differ_only_at_ties"]}
    def agrees(c):   # every hop but a tie: the hop count, the gate, one step, the labels
        return (c["hops"] == c["app_hops"] and not c["gate_differs_at"] and c["labels_differ_only_at_ties"]
                and c["max_probability_difference"] <= step + stream_app.PRINTED)
    checks = {"every_hop_agrees_with_listen_but_ties_within_one_int8_step": all(agrees(r["comparison"]) for r in runs),
              "no_samples_dropped": all(r["info"].get("dropped_samples", 1) == 0 for r in runs),
              "ticks_per_instruction_as_the_board_clock": all(
                  abs(r["info"].get("calibration_ticks", 0) * ipt / 2e6 - 1) < 0.001 for r in runs)}
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    import hashlib

    from sernet_edge.export_c import app_sources, generate
    data = path.read_bytes()
    fe = generate(data, path.stem, card)
    app_text = app_sources(path.stem, card, **app_settings())
    result = {"date": date, "date_utc": date[:10], "core": args.core, "model": path.name, "short": short,
              "weights_sha256": card.get("weights_sha256"), "file_bytes": len(data),
              # the generated C the figures are of (tests/test_doc_tables.py regenerates them)
              "front_end_sha256": hashlib.sha256((fe["sernet_frontend.h"] + fe["sernet_frontend.c"]).encode()).hexdigest(),
              "app_sha256": hashlib.sha256("".join(app_text[k] for k in sorted(app_text)).encode()).hexdigest(),
              "command": f"python benchmarks/cortex-m/app_hops.py TFLM --model {args.model}"
                         + (f" --core {args.core}" if args.core != "m4" else "")
                         + "".join(f" --hop {h:g}" for h in (args.hop or [])),
              "emulator": f"qemu-system-arm {CORES[args.core]['board']} ({CORES[args.core]['cpu']}), -icount shift=0, "
                          f"1 tick = {ipt:g} instructions",
              "cmsis_nn_optimization": os.environ.get("NN_OPT") or "-O2",
              "audio": {"what": "benchmarks/stream_app.py noisy_stream of the bundled clips", "seconds": len(stream) / rate,
                        "noise_below_speech_db": stream_app.NOISE_BELOW_SPEECH_DB, "seed": stream_app.NOISE_SEED},
              "clocks": {name: hz for name, hz in CLOCKS[args.core]},
              "provenance": provenance(args.tflm), "runs": runs, "checks": checks, "ok": all(checks.values()),
              "every_hop_label_equal": all(r["comparison"]["equal"] for r in runs),
              "labels_differing_only_at_ties": ties}
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(stem.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    write_atomic(stem.with_suffix(".md"), markdown(result))
    print(f"{stem}.json: {'every hop agrees' if result['ok'] else 'FAILED'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The streaming app of `export-c --app`, on the host, hop by hop against `listen --file --fast`.

    python benchmarks/stream_app.py                      # multi-xs-micro, the bundled clips and a noisy stream
    python benchmarks/stream_app.py --model multi-s-micro --hop 1.0

The generated C (sernet_app.c, sernet_gate.c, sernet_frontend.c: the loop, the gate, the front
end) is compiled with the host's cc into a shared library; its sernet_app_invoke() calls back
into Python, which runs the model under TensorFlow Lite Micro (the `tflite_micro` package of the
`[micro]` extra: TFLM's reference kernels, the integer arithmetic of CMSIS-NN's). The same
audio goes through `sernet-edge listen --file AUDIO --fast --vad energy --json` with the same
settings. Every hop is compared: the label, the smoothed probabilities (within one int8 output
step), the gate's decision. Audio: each bundled clip, and a stream made from them (the clips
one after another with pauses, under pink-ish noise at 20 dB below the speech, written as
16-bit PCM so both sides read the same samples).

The gate is the energy gate over the room's noise floor (`--vad energy`, what `--vad auto`
means): sernet_gate.c is its C twin. The app has no twin of `--vad webrtc`.

Writes benchmarks/results/stream-app-<model>-<date>.json and .md (never overwritten), or --out.
Exit status 1 unless every hop agrees.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.result_files import new_stem  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
NOISE_SEED = 47
NOISE_BELOW_SPEECH_DB = 20.0
# app_main.c prints probabilities with 6 decimals: one int8 step compared with that slack
PRINTED = 1.5e-6

SHIM = r"""
#include <stdint.h>
#include <stddef.h>
#include "sernet_app.h"
typedef int (*sernet_host_invoke)(const int8_t *input, int8_t *output);
static sernet_host_invoke host_invoke;
void sernet_host_set_invoke(sernet_host_invoke f) { host_invoke = f; }
int sernet_app_invoke(void *context, const int8_t *input, int8_t *output)
{
    (void)context;
    return host_invoke ? host_invoke(input, output) : 1;
}
size_t sernet_host_app_size(void) { return sizeof(sernet_app); }
size_t sernet_host_event_size(void) { return sizeof(sernet_app_event); }
"""


def event_struct(labels: int):
    class Event(ctypes.Structure):
        _fields_ = [("hop", ctypes.c_long), ("end_sample", ctypes.c_long), ("label", ctypes.c_int),
                    ("top", ctypes.c_int), ("confidence", ctypes.c_float),
                    ("probabilities", ctypes.c_float * labels), ("output", ctypes.c_int8 * labels),
                    ("level_db", ctypes.c_double), ("gated", ctypes.c_int), ("inferred", ctypes.c_int),
                    ("overflows", ctypes.c_ulong)]
    return Event


def build(model: str, out: Path, settings: dict) -> Path:
    """export-c --app into out/gen, then a shared library of the app, gate and front end."""
    from sernet_edge.export_c import export_c
    gen = out / "gen"
    export_c(model, gen, settings)
    (gen / "host_shim.c").write_text(SHIM)
    lib = out / "libsernet_app.so"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror", "-I", str(gen),
                    str(gen / "sernet_app.c"), str(gen / "sernet_gate.c"), str(gen / "sernet_frontend.c"),
                    str(gen / "host_shim.c"), "-lm", "-o", str(lib)], check=True)
    return lib


class HostApp:
    """The compiled app with TFLite Micro (host, reference kernels) behind its Invoke()."""

    def __init__(self, lib_path: Path, model_bytes: bytes, labels: list[str]):
        from tflite_micro import runtime
        self.lib = ctypes.CDLL(str(lib_path))
        self.labels = labels
        self.Event = event_struct(len(labels))
        assert self.lib.sernet_host_event_size() == ctypes.sizeof(self.Event), "event layout"
        self.interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=4 * 1024 * 1024)
        self.shape = self.interp.get_input_details(0)["shape"]
        n_in = int(np.prod(self.shape))

        @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int8), ctypes.POINTER(ctypes.c_int8))
        def invoke(inp, out):
            x = np.ctypeslib.as_array(inp, shape=(n_in,)).copy()
            self.interp.set_input(x.reshape(self.shape), 0)
            self.interp.invoke()
            y = np.array(self.interp.get_output(0)).reshape(-1).astype(np.int8)
            for i, v in enumerate(y):
                out[i] = int(v)
            return 0

        self._invoke = invoke        # keep the callback alive
        self.lib.sernet_host_set_invoke(invoke)
        self.lib.sernet_app_push.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_long]
        self.lib.sernet_app_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        self.lib.sernet_app_poll.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.sernet_app_flush.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.sernet_app_label_name.restype = ctypes.c_char_p
        self.app = ctypes.create_string_buffer(self.lib.sernet_host_app_size())

    def run(self, samples: np.ndarray, block: int = 512) -> list[dict]:
        """Every hop's event for int16 `samples`, pushed in blocks as a DMA would."""
        self.lib.sernet_app_init(self.app, None, 1)
        ev = self.Event()
        events = []

        def drain(poll):
            while True:
                rc = poll(self.app, ctypes.byref(ev))
                if rc < 0:
                    raise RuntimeError(f"the app failed: {rc}")
                if rc == 0:
                    return
                events.append(self._event(ev))

        s = np.ascontiguousarray(samples, np.int16)
        for i in range(0, len(s), block):
            piece = s[i:i + block]
            self.lib.sernet_app_push(self.app, piece.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(piece))
            drain(self.lib.sernet_app_poll)
        drain(self.lib.sernet_app_flush)
        return events

    def _event(self, ev) -> dict:
        return {"hop": ev.hop, "end_sample": ev.end_sample,
                "label": self.lib.sernet_app_label_name(ev.label).decode(),
                "confidence": float(ev.confidence) if ev.inferred else None,
                "probabilities": [float(v) for v in ev.probabilities] if ev.inferred else None,
                "output": [int(v) for v in ev.output] if ev.inferred else None,
                "level_dbfs": float(ev.level_db), "gated": bool(ev.gated)}


def listen_events(model: str, wav: Path, settings: dict) -> list[dict]:
    """`sernet-edge listen --file WAV --fast --vad energy --json` with the app's settings."""
    cmd = [sys.executable, "-m", "sernet_edge", "listen", "-m", model, "--file", str(wav), "--fast",
           "--vad", "energy", "--json", "--hop", repr(settings["hop"]), "--smooth", str(settings["smooth"]),
           "--threshold", repr(settings["threshold"]), "--min-speech", repr(settings["min_speech"]),
           "--energy-db", repr(settings["energy_db"])]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def listen_events_builtin(model: str, wav: Path, settings: dict) -> list[dict]:
    """What `listen --file WAV --fast --vad energy --json` does (the same classifier, gate,
    Pipeline, file source and `run`), with LiteRT's builtin kernels instead of its default
    XNNPACK delegate: the integer arithmetic TFLite Micro and CMSIS-NN share (XNNPACK rounds
    differently). Event dicts as listen's JSON lines."""
    from sernet_edge.bench import plain_interpreter
    from sernet_edge.runtime import EmotionClassifier
    from sernet_edge.stream import sources
    from sernet_edge.stream.pipeline import Pipeline, run
    from sernet_edge.vad import make_gate

    clf = EmotionClassifier(model)
    interp = plain_interpreter(clf.path.read_bytes(), clf.path)
    interp.allocate_tensors()
    clf.interpreter = interp
    clf._input, clf._output = interp.get_input_details()[0], interp.get_output_details()[0]
    rate = clf.features.sample_rate
    pipeline = Pipeline(clf, settings["hop"], settings["smooth"], settings["threshold"],
                        make_gate("energy", rate, settings["energy_db"], track_noise=True),
                        min_speech=settings["min_speech"])
    events = []
    run(sources.file_source(str(wav), rate, realtime=False), pipeline, lambda e: events.append(e.to_dict()))
    return events


def noisy_stream(clips: list[Path], rate: int) -> np.ndarray:
    """The clips one after another, 1.5 s of pause before each and at the end, under steady
    noise 20 dB below the speech's RMS (brown-ish: a random walk, high-passed by a difference
    of 0.98), as int16."""
    import soundfile as sf
    rng = np.random.default_rng(NOISE_SEED)
    pause = np.zeros(int(1.5 * rate), np.float64)
    parts = []
    for c in clips:
        x, r = sf.read(c, dtype="float64")
        assert r == rate, c
        parts += [pause, x]
    parts.append(pause)
    speech = np.concatenate(parts)
    rms = np.sqrt(np.mean(np.concatenate([p for p in parts if len(p) and p is not pause]) ** 2))
    w = rng.standard_normal(len(speech))
    noise = np.cumsum(w)
    noise = noise - np.convolve(noise, np.ones(64) / 64, mode="same")   # no slow drift
    noise *= rms * 10 ** (-NOISE_BELOW_SPEECH_DB / 20) / np.sqrt(np.mean(noise ** 2))
    y = np.clip(speech + noise, -1.0, 32767 / 32768)
    return np.round(y * 32768).astype(np.int16)


def compare(app: list[dict], ref: list[dict], step: float, threshold: float = 0.5) -> dict:
    """Hop by hop: labels, gate decisions and probabilities (within one int8 step)."""
    n = min(len(app), len(ref))
    label_diff = [i + 1 for i in range(n) if app[i]["label"] != ref[i]["label"]]
    gate_diff = [i + 1 for i in range(n) if app[i]["gated"] != ref[i]["gated"]]
    worst, worst_conf = 0.0, 0.0
    for a, r in zip(app, ref):
        if a["probabilities"] is None or r["probabilities"] is None:
            if (a["probabilities"] is None) != (r["probabilities"] is None):
                worst = float("inf")
            continue
        p_ref = list(r["probabilities"].values())
        worst = max(worst, max(abs(x - y) for x, y in zip(a["probabilities"], p_ref)))
        worst_conf = max(worst_conf, abs(a["confidence"] - r["confidence"]))
    # a label can differ with probabilities within a step only at a tie: the host's top
    # confidence within a step of the threshold, or its runner-up within a step of its top
    def tie(r):
        if r["probabilities"] is None:
            return False
        p = sorted(r["probabilities"].values(), reverse=True)
        return abs(p[0] - threshold) <= step + PRINTED or (len(p) > 1 and p[0] - p[1] <= step + PRINTED)
    ties = [i for i in label_diff if tie(ref[i - 1])]
    return {"hops": len(ref), "app_hops": len(app), "labels_differ_only_at_ties": ties == label_diff, "hops_with_inference": sum(r["probabilities"] is not None for r in ref),
            "labels_differ_at": label_diff, "gate_differs_at": gate_diff,
            "max_probability_difference": worst, "max_probability_difference_steps": worst / step,
            "max_confidence_difference": worst_conf,
            "equal": len(app) == len(ref) and not label_diff and not gate_diff and worst <= step + PRINTED}


def main(argv=None) -> int:
    import soundfile as sf

    from sernet_edge.card import read_card
    from sernet_edge.export_c import app_settings
    from sernet_edge.runtime import BUNDLED, bundled_clips, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="multi-xs-micro")
    ap.add_argument("--hop", type=float, default=None, help="seconds (listen's default)")
    ap.add_argument("--clips", type=int, default=None, help="only the first N bundled clips")
    ap.add_argument("--out", type=Path, help="JSON to write (.md beside it)")
    ap.add_argument("--no-write", action="store_true", help="compare and print only")
    args = ap.parse_args(argv)
    path = resolve_model(args.model)
    card = read_card(path)
    short = next((k for k, v in BUNDLED.items() if v == path.name), path.stem)
    settings = app_settings(hop=args.hop)
    step = float(card["output"]["scale"])
    clips = bundled_clips()[:args.clips] if args.clips else bundled_clips()
    rate = int(card["features"]["sample_rate"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = HostApp(build(args.model, tmp, settings), path.read_bytes(), card["labels"])
        audio = [(c.name, sf.read(c, dtype="int16")[0], c) for c in clips]
        stream = noisy_stream(clips, rate)
        sf.write(tmp / "noisy.wav", stream, rate, subtype="PCM_16")
        audio.append((f"noisy stream ({len(clips)} clips, pauses, noise {NOISE_BELOW_SPEECH_DB:g} dB below)",
                      stream, tmp / "noisy.wav"))
        for name, samples, wav in audio:
            got = app.run(samples)
            ref = listen_events_builtin(args.model, wav, settings)
            c = compare(got, ref, step)
            xnn = compare(got, listen_events(args.model, wav, settings), step)
            c.update(audio=name, seconds=round(len(samples) / rate, 3),
                     labels=[e["label"] for e in ref], app_labels=[e["label"] for e in got],
                     against_listen_xnnpack={k: xnn[k] for k in ("hops", "labels_differ_at", "gate_differs_at",
                                                                 "max_probability_difference_steps", "equal")})
            rows.append(c)
            print(f"{name}: {c['hops']} hops ({c['hops_with_inference']} inferred), labels equal "
                  f"{not c['labels_differ_at']}, max prob diff {c['max_probability_difference_steps']:.2f} steps; "
                  f"against listen (XNNPACK): labels equal {not xnn['labels_differ_at']}, "
                  f"{xnn['max_probability_difference_steps']:.2f} steps", flush=True)
    ok = all(r["equal"] for r in rows)
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def git(*a):
        return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True).stdout.strip()

    result = {"date": date, "date_utc": date[:10], "model": path.name, "short": short,
              "command": "python benchmarks/stream_app.py" + (f" --model {args.model}" if args.model != "multi-xs-micro" else "")
              + (f" --hop {args.hop:g}" if args.hop else "") + (f" --clips {args.clips}" if args.clips else ""),
              "settings": settings, "gate": "energy (listen --vad energy)",
              "reference": "listen --file AUDIO --fast --vad energy: its classifier, gate, Pipeline and file "
                           "source in this process, LiteRT's builtin kernels (what TFLite Micro computes)",
              "second_reference": "sernet-edge listen --file AUDIO --fast --vad energy --json as it is "
                                  "(LiteRT's default XNNPACK delegate)",
              "app_invoke": "tflite_micro (host, reference kernels)", "compiler": first_line([os.environ.get("CC", "cc"), "--version"]),
              "output_step": step, "commit": git("rev-parse", "HEAD"),
              "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
              "audio": rows, "ok": ok}
    if not args.no_write:
        stem = new_stem(f"stream-app-{short}", args.out)
        stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        stem.with_suffix(".md").write_text(markdown(result))
        print(f"{stem}.json: {'every hop agrees' if ok else 'FAILED'}")
    return 0 if ok else 1


def first_line(cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def markdown(r: dict) -> str:
    s = r["settings"]
    md = [f"# The streaming app on the host against listen: {r['short']}, {r['date_utc']}", "",
          f"`{r['command']}`: `export-c --app`'s loop, gate and front end compiled with {r['compiler']}, "
          f"Invoke() under {r['app_invoke']}; against `{r['reference']}`. Hop {s['hop']:g} s, smooth "
          f"{s['smooth']}, threshold {s['threshold']:g}, min speech {s['min_speech']:g} s, energy floor "
          f"{s['energy_db']:g} dBFS. Verdict: **{'every hop agrees' if r['ok'] else 'FAILED'}** (labels "
          f"equal, gate equal, probabilities within one int8 step = {r['output_step']:g}).", "",
          f"Commit `{r['commit']}`" + (" with uncommitted changes" if r["uncommitted_changes"] else "") + ".", "",
          "| audio | seconds | hops | with inference | labels equal | gate equal | max probability difference (int8 steps) |",
          "|---|---:|---:|---:|---|---|---:|"]
    for a in r["audio"]:
        md.append(f"| {a['audio']} | {a['seconds']:g} | {a['hops']} | {a['hops_with_inference']} | "
                  f"{'yes' if not a['labels_differ_at'] and a['hops'] == a['app_hops'] else 'NO'} | "
                  f"{'yes' if not a['gate_differs_at'] else 'NO'} | {a['max_probability_difference_steps']:.2f} |")
    md += ["", "Each hop's labels, both sides: the JSON.", ""]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    sys.exit(main())

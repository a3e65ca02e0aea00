"""Soak test of the live pipeline: an hour of audio through `sernet-edge listen`'s code path.

The bundled clips, each followed by silence, are looped to exactly --seconds of audio
(generated in memory, one clip at a time) and replayed through the file source as fast as
possible: ring buffer -> gate -> classify every hop -> smoothing -> a JSON-lines sink.
Resident memory (VmRSS) is sampled every --sample-every seconds of audio. Pass: RSS growth
after the first sample under --max-growth-mb, and no dropped hops (every hop present, in order,
exactly one hop apart).

    .venv/bin/python benchmarks/soak.py --model models/light-sernet-emodb-3s-int8.tflite
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from sernet_edge.audio import load_audio
from sernet_edge.bench.timing import machine_info
from sernet_edge.io import write_json, write_text
from sernet_edge.runtime import EmotionClassifier, bundled_clips, bundled_model_path
from sernet_edge.stream.pipeline import SILENCE, Pipeline, run
from sernet_edge.stream.sources import ReplaySource
from sernet_edge.vad import make_gate
from sernet_edge.stream.view import JsonLinesView

SECONDS = 3600.0
GAP_SECONDS = 1.5              # silence after each clip, so the gate and the resets are exercised
SAMPLE_EVERY = 60.0            # seconds of audio between RSS samples
MAX_GROWTH_MB = 5.0
RESULTS = Path(__file__).resolve().parent / "results"


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def looped_audio(clips, total_samples: int, gap: int):
    """Clip, gap, clip, gap, ... cut to exactly `total_samples`; one piece in memory at a time."""
    silence = np.zeros(gap, np.float32)
    left = total_samples
    while left > 0:
        for clip in clips:
            for piece in (clip, silence):
                if left <= 0:
                    return
                yield piece[:left]
                left -= min(len(piece), left)


class Recorder:
    """The sink: JSON lines into a throwaway stream (the real output path), hop continuity,
    RSS samples and per-hop processing time. Preallocated, so the harness itself does not
    grow while it measures growth."""

    def __init__(self, hop_seconds: float, sample_every: float, max_hops: int):
        self.hop = hop_seconds
        self.every = sample_every
        self.view = JsonLinesView(_NullText())
        self.expected = hop_seconds
        self.dropped = 0
        self.samples = []             # (audio seconds, rss bytes): one per minute
        self.last = time.perf_counter()
        self.seconds = np.zeros(max_hops, np.float64)   # processing time per hop
        self.silent = np.zeros(max_hops, bool)
        self.n = 0

    def busy(self) -> dict:
        t, s = self.seconds[:self.n], self.silent[:self.n]
        return {"classified": stats_ms(t[~s]), "silence": stats_ms(t[s])}

    def __call__(self, event) -> None:
        if self.n < len(self.seconds):
            self.seconds[self.n] = time.perf_counter() - self.last
            self.silent[self.n] = event.label == SILENCE
            self.n += 1
        self.view.show(event)
        if abs(event.timestamp - self.expected) > 1e-6:
            self.dropped += 1
        self.expected = round(event.timestamp + self.hop, 6)
        if abs(event.timestamp / self.every - round(event.timestamp / self.every)) < 1e-9:
            self.samples.append((event.timestamp, rss_bytes()))
        self.last = time.perf_counter()


class _NullText(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def stats_ms(times) -> dict:
    if len(times) == 0:
        return {"count": 0}
    a = np.asarray(times) * 1000
    return {"count": int(a.size), "mean_ms": round(float(a.mean()), 3),
            "median_ms": round(float(np.median(a)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "max_ms": round(float(a.max()), 3)}


def soak(model, seconds, hop, smooth, threshold, vad, energy_db, sample_every, threads,
         gap) -> dict:
    machine = machine_info()
    rss_start = rss_bytes()
    clf = EmotionClassifier(model, num_threads=threads)
    rate = clf.features.sample_rate
    clips = [load_audio(p, rate) for p in bundled_clips()]
    pipeline = Pipeline(clf, hop, smooth, threshold, make_gate(vad, rate, energy_db))
    # whole hops only: a recording's last, shorter hop would be decided too (Pipeline.flush)
    expected_hops = int(round(seconds * rate)) // pipeline.hop
    total = expected_hops * pipeline.hop
    rec = Recorder(pipeline.hop_seconds, sample_every, expected_hops)
    rss_loaded = rss_bytes()
    t0 = time.perf_counter()
    summary = run(ReplaySource(looped_audio(clips, total, int(gap * rate)), rate, realtime=False),
                  pipeline, rec)
    wall = time.perf_counter() - t0
    rss = [r for _, r in rec.samples]
    growth = (max(rss[1:]) - rss[0]) if len(rss) > 1 else 0
    final_growth = (rss[-1] - rss[0]) if len(rss) > 1 else 0
    passed = (growth < MAX_GROWTH_MB * 1e6 and rec.dropped == 0 and summary.hops == expected_hops)
    return {
        "benchmark": "soak",
        "machine": machine,
        "model": {"path": str(model), "name": Path(model).name,
                  "precision": clf.card.get("precision"), "labels": clf.labels},
        "settings": {"seconds": seconds, "hop": hop, "smooth": smooth, "threshold": threshold,
                     "vad": vad, "gate": type(pipeline.gate).__name__ if pipeline.gate else None,
                     "energy_db": energy_db, "gap_seconds": gap, "sample_every": sample_every,
                     "threads": threads, "clips": [p.name for p in bundled_clips()]},
        "result": {
            "passed": passed,
            "audio_seconds": summary.duration,
            "wall_seconds": round(wall, 2),
            "realtime_factor": round(wall / summary.duration, 5) if summary.duration else None,
            "hops": summary.hops,
            "expected_hops": expected_hops,
            "dropped_hops": rec.dropped + (expected_hops - summary.hops),
            "counts": dict(summary.counts.most_common()),
            "overflows": summary.overflows,
            "per_hop": rec.busy(),
            "rss_start_bytes": rss_start,
            "rss_after_load_bytes": rss_loaded,
            "rss_first_sample_bytes": rss[0] if rss else None,
            "rss_last_bytes": rss[-1] if rss else None,
            "rss_max_growth_bytes": growth,
            "rss_final_growth_bytes": final_growth,
            "max_growth_limit_bytes": int(MAX_GROWTH_MB * 1e6),
            "rss_samples": [{"audio_seconds": t, "rss_bytes": r} for t, r in rec.samples],
        },
    }


def markdown(res: dict) -> str:
    m, r, s = res["machine"], res["result"], res["settings"]
    mb = lambda b: f"{b / 1e6:.2f} MB"  # noqa: E731
    ph = r["per_hop"]
    lines = [
        f"# Soak test, {m['date'][:10]}",
        "",
        f"**{'PASS' if r['passed'] else 'FAIL'}**: {r['audio_seconds']:.0f} s of audio "
        f"({r['hops']} hops of {s['hop']} s, {r['dropped_hops']} dropped) through the live "
        f"pipeline in {r['wall_seconds']:.1f} s (real-time factor {r['realtime_factor']}); "
        f"resident memory grew {mb(r['rss_max_growth_bytes'])} at most after the first sample "
        f"(limit {mb(r['max_growth_limit_bytes'])}).",
        "",
        "| | |", "|---|---|",
        f"| model | `{res['model']['name']}` ({res['model']['precision']}) |",
        f"| settings | hop {s['hop']} s, smooth {s['smooth']}, threshold {s['threshold']}, "
        f"gate {s['gate']} ({s['energy_db']} dBFS), {s['threads']} thread(s) |",
        f"| audio | the {len(s['clips'])} bundled clips, each + {s['gap_seconds']} s silence, "
        f"looped to {s['seconds']:.0f} s |",
        f"| hops | {', '.join(f'{k} {v}' for k, v in r['counts'].items())} |",
        f"| classified hop | mean {ph['classified'].get('mean_ms')} ms, median "
        f"{ph['classified'].get('median_ms')} ms, p99 {ph['classified'].get('p99_ms')} ms |",
        f"| silent hop | mean {ph['silence'].get('mean_ms')} ms |",
        f"| RSS | start {mb(r['rss_start_bytes'])}, model loaded {mb(r['rss_after_load_bytes'])}, "
        f"first sample {mb(r['rss_first_sample_bytes'])}, end {mb(r['rss_last_bytes'])} |",
        f"| machine | {m['cpu']}, {m['cores']} cores, {m['platform']} |",
        f"| software | Python {m['python']}, numpy {m['numpy']}, {m['runtime']} |",
        f"| load | 1-min load average {m['load_average_1m']:.2f} at start"
        f"{' (noisy: other work was running)' if m.get('noisy') else ''} |",
        "",
        f"RSS every {s['sample_every']:g} s of audio (MB): "
        + " ".join(f"{x['rss_bytes'] / 1e6:.1f}" for x in r["rss_samples"]),
        "",
        f"Run: `python benchmarks/soak.py --model {res['model']['path']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="default: the bundled model")
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--hop", type=float, default=0.5)
    ap.add_argument("--smooth", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--vad", default="energy", choices=["auto", "energy", "webrtc", "off"])
    ap.add_argument("--energy-db", type=float, default=-45.0)
    ap.add_argument("--gap", type=float, default=GAP_SECONDS)
    ap.add_argument("--sample-every", type=float, default=SAMPLE_EVERY)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    model = args.model or str(bundled_model_path())
    res = soak(model, args.seconds, args.hop, args.smooth, args.threshold, args.vad, args.energy_db,
               args.sample_every, args.threads, args.gap)
    stamp = datetime.date.today().isoformat()
    write_json(args.out / f"soak-{stamp}.json", res)
    write_text(args.out / f"soak-{stamp}.md", markdown(res))
    print(markdown(res))
    return 0 if res["result"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

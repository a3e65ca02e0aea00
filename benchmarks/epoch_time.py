#!/usr/bin/env python3
"""Seconds per training epoch, from the per-epoch log of a `sernet-edge train` run.

    python benchmarks/epoch_time.py /work/runs/emodb-3s > benchmarks/results/epoch-time-2026-11-25.md
"""

import json
import platform
import statistics
import sys
from pathlib import Path


def main(run: str) -> None:
    run = Path(run)
    rows = []
    for state in sorted(run.glob("**/state.json")):
        h = json.loads(state.read_text())["history"][1:]   # epoch 0 includes graph building
        if h:
            secs = [r["seconds"] for r in h]
            rows.append((state.parent.relative_to(run), len(h) + 1, statistics.median(secs), min(secs)))
    settings = json.loads((run / "settings.json").read_text())
    print(f"# Seconds per epoch, `{run.name}`\n")
    print(f"Corpus {settings['corpus']} ({settings['items']} files), input "
          f"{settings['features']['seconds']:g} s, batch {settings['recipe']['batch_size']}; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}. "
          "Per-epoch wall time as logged by the trainer (training plus validation scoring and "
          "the checkpoint); other jobs shared the 2 cores at times, so the minimum is the "
          "machine's figure and the median what the run got.\n")
    print("| part | epochs | median s | min s |\n|---|---:|---:|---:|")
    for name, n, med, lo in rows:
        print(f"| {name} | {n} | {med:.2f} | {lo:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])

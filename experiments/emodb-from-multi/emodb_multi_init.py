#!/usr/bin/env python3
"""Leave-one-speaker-out on EMO-DB (7 classes) where each fold starts from a multi-corpus
fold model that never heard that fold's test speaker.

A multi-corpus cross-validation (CREMA-D + EMO-DB, `--protocol cv`) holds out one or two
EMO-DB speakers per fold. For each EMO-DB test speaker this runs the matching LOSO fold of
RECIPE, started (`--init`) from the multi fold whose test set holds that speaker; speakers
no multi fold held out (folds not run) are skipped and listed. Each fold trains in its own
folder under OUT/folds-by-init/ and resumes there; the fold results are copied to
OUT/<fold>.json for loso_pooled.py / per_speaker.py.

    python experiments/emodb-from-multi/emodb_multi_init.py /data/emodb runs/multi-cv \
        --recipe experiments/emodb-from-multi/emodb-multi-init.toml --out runs/emodb-multi-init
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def held_out_by(multi_run: Path) -> dict[str, Path]:
    """EMO-DB speaker -> the multi fold folder (with selected weights) that held it out."""
    found = {}
    for result in sorted(multi_run.glob("folds/*/result.json")):
        fold_dir = result.parent
        if not (fold_dir / "best.weights.h5").exists():
            continue
        for speaker in json.loads(result.read_text())["test_speakers"]:
            corpus, _, name = speaker.rpartition("/")
            if corpus == "emodb":
                found[name] = fold_dir
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("emodb", type=Path)
    ap.add_argument("multi_run", type=Path, help="a multi-corpus `train --protocol cv` run folder")
    ap.add_argument("--recipe", type=Path, default=Path(__file__).resolve().with_name("emodb-multi-init.toml"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--speakers", default="", help="comma-separated EMO-DB speakers (default: all held out)")
    args = ap.parse_args()

    sys.path.insert(0, str(REPO))
    from sernet_edge.corpora import emodb
    speakers = sorted({item.speaker for item in emodb.load(args.emodb).items})
    inits = held_out_by(args.multi_run)
    wanted = [s for s in args.speakers.split(",") if s] or speakers
    missing = [s for s in wanted if s not in inits]
    if missing:
        print(f"no multi fold held out speaker(s) {', '.join(missing)}: skipped", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("sernet-edge")
    for speaker in wanted:
        if speaker not in inits:
            continue
        k = speakers.index(speaker)        # LOSO folds are numbered in speaker order
        run = args.out / "folds-by-init" / f"speaker-{speaker}"
        cmd = [str(exe), "train", str(args.emodb), "-o", str(run), "--config", str(args.recipe),
               "--init", str(inits[speaker]), "--folds", str(k), "--no-final"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        for result in run.glob("folds/*/result.json"):
            shutil.copyfile(result, args.out / f"{result.parent.name}.json")
        settings = json.loads((run / "settings.json").read_text())
        merged = args.out / "settings.json"     # one run's settings, with every fold's start
        starts = json.loads(merged.read_text())["recipe"]["init"] if merged.exists() else {}
        if not isinstance(starts, dict):
            starts = {}
        starts[speaker] = str(inits[speaker])
        settings["recipe"]["init"] = dict(sorted(starts.items()))
        merged.write_text(json.dumps(settings, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How models do on the development corpora: languages and voices none of them heard.

The development corpora (sernet_edge.corpora.EVALUATION_ONLY) are for evaluation only: their
licences forbid commercial use, so the project never trains, tunes or calibrates on them.

  nEMO       Polish, 9 actors, 4,481 clips          CC BY-NC-SA 4.0
  URDU       Urdu TV talk shows, 400 clips          research use only
  TurEV-DB   Turkish, 6 actors, 1,735 words         CC BY-NC-ND 4.0 (calm scored as neutral)

Each model scores every clip of every corpus found exactly as `sernet-edge evaluate` does
(its own functions: the clip classified whole, windows every --hop seconds, mean
probabilities), on the classes the corpus shares with the model; clips of other classes are
left out and counted. Two answers per clip, from the same probabilities:

  all classes      the most probable of the model's classes: `evaluate`'s answer, what a
                   user of the model gets (a nEMO clip may be answered disgust)
  shared classes   the most probable of the classes the corpus has: the transfer on those
                   classes alone, comparable between models with other extra classes

Per corpus and answer: n, UAR (mean recall over the classes present), WA, macro F1 and each
class's recall; per model, the mean UAR over the corpora. Chance is 1 / (classes scored).

    nice -n 10 python benchmarks/unseen_corpora.py -m multi
    python benchmarks/unseen_corpora.py -m models/x.tflite /data/nemo /data/urdu

Corpus folders come from the arguments, or else SERNET_NEMO, SERNET_URDU and SERNET_TUREV_DB
(default /work/data/nemo, urdu, turev-db; absent ones are skipped, with a line saying so).
Each a fresh extract of its repository's folder: nEMO amu-cai/nEMO (samples/), URDU
siddiquelatif/URDU-Dataset, TurEV-DB Xeonen/TurEV-DB ("Sound Source/").

Writes, atomically, to --out (default benchmarks/results/unseen-corpora-<date>/):
<model>.json per model (as `evaluate -o`'s evaluate.json: scores, confusion matrices, UAR
per speaker, every clip's prediction and confidence; with the machine it ran on), then
unseen-corpora.json and unseen-corpora.md over every <model>.json in the folder, so models
run one at a time add up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sernet_edge import __version__
from sernet_edge.bench.timing import machine_info
from sernet_edge.cli.evaluate import (compact_json, corpus_report, model_info, score_clip, select,
                                      summary)
from sernet_edge.corpora import EVALUATION_ONLY, LAYOUTS, load_corpus
from sernet_edge.errors import SernetError
from sernet_edge.io import write_text
from sernet_edge.runtime import EmotionClassifier, bundled_models

REPO = Path(__file__).resolve().parents[1]
# corpus name -> (environment variable, default folder)
DEFAULT_FOLDERS = {"nemo": ("SERNET_NEMO", "/work/data/nemo"),
                   "urdu": ("SERNET_URDU", "/work/data/urdu"),
                   "turev-db": ("SERNET_TUREV_DB", "/work/data/turev-db")}
TITLES = {"nemo": "nEMO (Polish)", "urdu": "URDU (Urdu)", "turev-db": "TurEV-DB (Turkish)"}
SUMMARY = "unseen-corpora"


def corpus_folders(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    found = []
    for name, (env, default) in DEFAULT_FOLDERS.items():
        folder = Path(os.environ.get(env, default))
        if folder.is_dir():
            found.append(folder)
        else:
            print(f"{name}: not found at {folder} (set {env}): skipped", file=sys.stderr)
    return found


def load_development_corpora(folders: list[Path]) -> list:
    corpora = []
    for folder in folders:
        corpus = load_corpus(folder)
        if corpus.name not in EVALUATION_ONLY:
            raise SernetError(f"{folder}: a {corpus.name} corpus, not a development corpus "
                              f"({', '.join(EVALUATION_ONLY)})")
        if corpus.name in [c.name for c in corpora]:
            raise SernetError(f"{folder}: a second {corpus.name} corpus")
        corpora.append(corpus)
    if not corpora:
        raise SernetError("no development corpus found: give their folders or set "
                          + ", ".join(env for env, _ in DEFAULT_FOLDERS.values()))
    return corpora


def model_name(model: str) -> str:
    """A bundled model's short name, or the file's name without .tflite."""
    return model if model in bundled_models() else Path(model).stem


class KeepProbabilities:
    """The classifier as `score_clip` calls it, keeping the last clip's probabilities: the
    shared-class answer comes from them without classifying the clip again."""

    def __init__(self, clf):
        self.clf, self.probabilities = clf, None

    def classify_file(self, path):
        self.probabilities = None
        result = self.clf.classify_file(path)
        self.probabilities = result.probabilities
        return result


def score_model(model: str, corpora: list, hop: float, threads: int | None,
                limit: int | None, vad: str = "auto") -> dict:
    """`evaluate`'s report of one model on every corpus, with each clip's shared-class answer
    (`predicted_shared`) and its scores (`shared_classes`), the mean UARs and the machine."""
    clf = EmotionClassifier(model, num_threads=threads, hop_seconds=hop, vad=vad)
    keep = KeepProbabilities(clf)
    machine, start = machine_info(), time.monotonic()
    results = []
    for corpus in corpora:
        sel = select(corpus, clf.labels, None, limit)
        present = {it.label for it in sel["items"]}
        shared = [lab for lab in clf.labels if lab in present]   # the model's order breaks ties
        t0, clips, bad = time.monotonic(), [], []
        for item in sel["items"]:
            clip = score_clip(keep, corpus, item)
            if "error" in clip:
                bad.append(clip)
                continue
            p = keep.probabilities   # None: no answer to restrict; the clip keeps evaluate's
            clip["predicted_shared"] = max(shared, key=p.__getitem__) if p else clip["predicted"]
            clips.append(clip)
        if not clips:
            raise SernetError(f"{corpus.root}: none of its {len(bad)} clips could be read: "
                              f"first: {bad[0]['error']}")
        report = corpus_report(corpus, sel, clips, bad, clf.labels)
        report["shared_classes"] = {"classes": shared, **summary(
            [{**c, "predicted": c["predicted_shared"]} for c in clips], clf.labels)}
        report["seconds"] = round(time.monotonic() - t0, 1)
        results.append(report)
        s, sh = report["scores"], report["shared_classes"]["scores"]
        print(f"{model_name(model)}  {corpus.name:<9} n {report['n']:>5}  UAR {100 * s['uar']:6.2f}  "
              f"shared classes {100 * sh['uar']:6.2f}  ({report['seconds']:.0f} s)", file=sys.stderr)
    return {"command": "unseen_corpora", "sernet_edge_version": __version__, "commit": commit(),
            "name": model_name(model), "model": model_info(clf),
            "options": {"hop": hop, "threads": threads, "limit": limit, "vad": clf.vad},
            "machine": machine, "wall_seconds": round(time.monotonic() - start, 1),
            "mean_uar": sum(r["scores"]["uar"] for r in results) / len(results),
            "mean_uar_shared_classes": sum(r["shared_classes"]["scores"]["uar"] for r in results)
            / len(results),
            "corpora": results}


def commit() -> str | None:
    """The commit the package was run from, marked -dirty when a tracked file of
    sernet_edge/ or models/ had changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--",
                                "sernet_edge", "models"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


# ---- the summary over every model in the folder ----

ANSWERS = {"all_classes": "all classes: the most probable of the model's classes (`evaluate`'s answer)",
           "shared_classes": "shared classes: the most probable of the classes the corpus has"}


def summarise(reports: list[dict]) -> dict:
    models = []
    for r in reports:
        corpora = {}
        for c in r["corpora"]:
            classes = c["shared_classes"]["classes"]
            corpora[c["name"]] = {"n": c["n"], "left_out": c["left_out"], "classes": classes,
                                  "chance": 1 / len(classes)}
            for answer, s in (("all_classes", c["scores"]), ("shared_classes", c["shared_classes"]["scores"])):
                corpora[c["name"]][answer] = {"uar": s["uar"], "wa": s["wa"], "f1": s["f1"],
                                              "recall": {lab: s["recall"][lab] for lab in classes}}
        models.append({"name": r["name"], "file": Path(r["model"]["file"]).name,
                       "precision": r["model"]["precision"], "labels": r["model"]["labels"],
                       "commit": r["commit"], "machine": r["machine"],
                       "wall_seconds": r["wall_seconds"], "options": r["options"],
                       "mean_uar": {"all_classes": r["mean_uar"],
                                    "shared_classes": r["mean_uar_shared_classes"]},
                       "corpora": corpora})
    return {"command": "unseen_corpora", "models": models,
            "attribution": {name: LAYOUTS[name].ATTRIBUTION for name in EVALUATION_ONLY}}


def markdown(summary: dict) -> str:
    models = summary["models"]
    names = [n for n in EVALUATION_ONLY if any(n in m["corpora"] for m in models)]
    pct = lambda x: f"{100 * x:.1f}"   # noqa: E731
    lines = ["# Models on the development corpora (evaluation only)", "",
             "UAR in % per corpus on the classes each corpus shares with the model (TurEV-DB's "
             "calm scored as neutral), and its mean over the corpora, for two answers from the "
             "same probabilities: " + "; ".join(ANSWERS.values()) + ". Chance is 100 / "
             "(classes scored), given per corpus below.", "",
             "| model | answer | " + " | ".join(TITLES[n] for n in names) + " | mean UAR |",
             "|---|---|" + "---:|" * (len(names) + 1)]
    for m in models:
        for answer in ANSWERS:
            cells = [pct(m["corpora"][n][answer]["uar"]) if n in m["corpora"] else "-" for n in names]
            lines.append(f"| {m['name']} | {answer.replace('_', ' ')} | "
                         + " | ".join(cells) + f" | {pct(m['mean_uar'][answer])} |")
    for n in names:
        classes = sorted({lab for m in models if n in m["corpora"] for lab in m["corpora"][n]["classes"]})
        lines += ["", f"## {TITLES[n]}: recall per class (%)", "",
                  "| model | answer | n | " + " | ".join(classes) + " | UAR | WA | chance | left out |",
                  "|---|---|---:|" + "---:|" * (len(classes) + 3) + "---|"]
        for m in models:
            c = m["corpora"].get(n)
            if c is None:
                continue
            gone = c["left_out"]["not_in_model"]
            left = ", ".join(f"{lab} {k}" for lab, k in gone.items()) or "-"
            if c["left_out"]["unreadable"]:
                left += f", unreadable {c['left_out']['unreadable']}"
            for answer in ANSWERS:
                a = c[answer]
                recall = [pct(a["recall"][lab]) if lab in a["recall"] else "-" for lab in classes]
                lines.append(f"| {m['name']} | {answer.replace('_', ' ')} | {c['n']} | "
                             + " | ".join(recall) + f" | {pct(a['uar'])} | {pct(a['wa'])} | "
                             f"{pct(c['chance'])} | {left} |")
    lines += ["", "## Runs", ""]
    for m in models:
        mc = m["machine"]
        lines.append(f"- {m['name']} ({m['file']}, {m['precision']}, {len(m['labels'])} classes): "
                     f"commit {m['commit']}, {mc['date']}, {mc['cpu']} "
                     f"({mc['usable_cores']} of {mc['cores']} cores), {mc['platform']}, Python "
                     f"{mc['python']}, numpy {mc['numpy']}, {mc['runtime']}; {m['options']['threads']} "
                     f"interpreter thread(s), hop {m['options']['hop']} s; {m['wall_seconds']:.0f} s")
    lines += ["", "## Corpora", ""] + [f"- {TITLES[n]}: {summary['attribution'][n]}" for n in names]
    return "\n".join(lines) + "\n"


def write_summary(out: Path) -> None:
    reports = []
    for path in sorted(out.glob("*.json")):
        if path.stem != SUMMARY:
            reports.append(json.loads(path.read_text()))
    order = list(bundled_models())
    reports.sort(key=lambda r: (order.index(r["name"]) if r["name"] in order else len(order), r["name"]))
    summary = summarise(reports)
    write_text(out / f"{SUMMARY}.json", json.dumps(summary, indent=1) + "\n")
    write_text(out / f"{SUMMARY}.md", markdown(summary))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="*", metavar="CORPUS",
                    help="development corpus folders (default: SERNET_NEMO, SERNET_URDU, SERNET_TUREV_DB)")
    ap.add_argument("-m", "--model", action="append", default=None,
                    help="bundled model name or .tflite file (repeatable; default: every bundled model)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"results folder (default benchmarks/results/{SUMMARY}-<date>)")
    ap.add_argument("--hop", type=float, default=1.0, help="seconds between windows (evaluate's default)")
    ap.add_argument("--threads", type=int, default=1, help="interpreter threads")
    ap.add_argument("--limit", type=int, default=None, help="at most N clips per corpus, spread evenly")
    ap.add_argument("--vad", default="auto", help="speech gate, as evaluate's --vad (off: every sample)")
    args = ap.parse_args()
    out = args.out or REPO / "benchmarks" / "results" / f"{SUMMARY}-{date.today().isoformat()}"
    try:
        corpora = load_development_corpora(corpus_folders(args.corpora))
        for model in args.model or list(bundled_models()):
            report = score_model(model, corpora, args.hop, args.threads, args.limit, args.vad)
            write_text(out / f"{report['name']}.json", compact_json(report) + "\n")
        write_summary(out)
    except SernetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"written: {out}/{SUMMARY}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

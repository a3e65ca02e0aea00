#!/usr/bin/env python3
"""Summarise a speaker-disjoint cross-validation from its fold result files: each fold, the
mean and spread over folds, and the scores pooled over every test clip, per corpus.

    python recipes/cv_summary.py experiments/multi-corpus/multi-cv/fold0*-of05.json \
        --out experiments/multi-corpus/multi-cv/summary

Fold files are the trainer's `folds/<fold>/result.json`. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def summarise(folds: list[dict], labels: list[str]) -> dict:
    from sernet_edge.metrics import scores
    rows = [{"fold": f["fold"], "test_speakers": len(f["test_speakers"]), "n": f["test"]["n"],
             "selected_epoch": f["selected_epoch"], "val_uar": f["val_uar"], "uar": f["test"]["uar"],
             "per_corpus": {c: {"uar": s["uar"], "n": s["n"]} for c, s in f["per_corpus"].items()}}
            for f in folds]
    corpora = sorted({c for f in folds for c in f["per_corpus"]})
    pooled = {"all": scores([y for f in folds for y in f["y_true"]],
                            [y for f in folds for y in f["y_pred"]], labels)}
    for c in corpora:
        yt = [y for f in folds for y, k in zip(f["y_true"], f["corpus"]) if k == c]
        yp = [y for f in folds for y, k in zip(f["y_pred"], f["corpus"]) if k == c]
        pooled[c] = scores(yt, yp, labels)
    return {"folds": rows,
            "uar_over_folds": spread([r["uar"] for r in rows]),
            "per_corpus_uar_over_folds": {c: spread([r["per_corpus"][c]["uar"] for r in rows
                                                    if c in r["per_corpus"]]) for c in corpora},
            "pooled": {k: {m: v[m] for m in ("uar", "wa", "f1", "n", "recall", "confusion")}
                       for k, v in pooled.items()}}


def markdown(s: dict, title: str) -> str:
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    corpora = list(s["per_corpus_uar_over_folds"])
    lines = [f"# {title}", "", "| fold | test speakers | clips | epoch (validation) | val UAR | test UAR | "
             + " | ".join(f"{c} UAR (clips)" for c in corpora) + " |",
             "|---|---:|---:|---:|---:|---:|" + "---:|" * len(corpora)]
    for r in s["folds"]:
        lines.append(f"| {r['fold']} | {r['test_speakers']} | {r['n']} | {r['selected_epoch']} | "
                     f"{pct(r['val_uar'])} | {pct(r['uar'])} | " + " | ".join(
                         f"{pct(r['per_corpus'][c]['uar'])} ({r['per_corpus'][c]['n']})"
                         if c in r["per_corpus"] else "-" for c in corpora) + " |")
    u = s["uar_over_folds"]
    lines += ["", f"Test UAR over {u['n']} folds: mean {pct(u['mean'])}, sd {pct(u['sd'])} "
                  f"(min {pct(u['min'])}, max {pct(u['max'])})."]
    for c, v in s["per_corpus_uar_over_folds"].items():
        lines.append(f"- {c}: mean {pct(v['mean'])}, sd {pct(v['sd'])} over {v['n']} folds "
                     f"(min {pct(v['min'])}, max {pct(v['max'])})")
    lines += ["", "Pooled over every test clip of these folds:", "",
              "| | clips | UAR | WA | F1 | " + " | ".join(s["pooled"]["all"]["recall"]) + " |",
              "|---|---:|---:|---:|---:|" + "---:|" * len(s["pooled"]["all"]["recall"])]
    for k, v in s["pooled"].items():
        lines.append(f"| {k} | {v['n']} | {pct(v['uar'])} | {pct(v['wa'])} | {pct(v['f1'])} | "
                     + " | ".join(pct(v["recall"][c]) if c in v["recall"] else "-"   # a class this corpus lacks
                                  for c in s["pooled"]["all"]["recall"]) + " |")
    return "\n".join(lines) + "\n"


def run_labels(fold_file: Path) -> list[str]:
    settings = fold_file.parent / "settings.json"
    if not settings.is_file():
        raise SystemExit(f"{settings}: not found; give --labels")
    return json.loads(settings.read_text())["labels"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folds", nargs="+", type=Path)
    ap.add_argument("--labels", default=None,
                    help="A,B,...; default: the labels of settings.json beside the fold files")
    ap.add_argument("--title", default="Multi-corpus recipe (recipes/multi.toml), 5 speaker-disjoint folds")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--png", action="store_true",
                    help="also OUT-confusion-<all|corpus>.png: the pooled confusion matrices")
    args = ap.parse_args(argv)
    from sernet_edge.io import write_text
    folds = sorted((json.loads(p.read_text()) for p in args.folds), key=lambda f: f["fold"])
    labels = args.labels.split(",") if args.labels else run_labels(args.folds[0])
    s = summarise(folds, labels)
    write_text(args.out.with_suffix(".json"), json.dumps(s, indent=2) + "\n")
    write_text(args.out.with_suffix(".md"), markdown(s, args.title))
    print(markdown(s, args.title))
    if args.png:
        write_confusions(folds, labels, args.out)
    return 0


def write_confusions(folds: list[dict], labels: list[str], out: Path) -> None:
    """Pooled confusion matrices over every fold's test clips: all, then each corpus."""
    from sernet_edge.metrics import confusion_matrix
    from sernet_edge.plots import confusion_png
    groups = ["all"] + sorted({c for f in folds for c in f.get("corpus", [])})
    for g in groups:
        pairs = [(t, p) for f in folds for t, p, c in zip(f["y_true"], f["y_pred"], f.get("corpus") or
                                                           [None] * len(f["y_true"])) if g in ("all", c)]
        cm = confusion_matrix([t for t, _ in pairs], [p for _, p in pairs], len(labels))
        path = out.parent / f"{out.name}-confusion-{g}.png"
        confusion_png(cm, labels, path, f"{g}, {len(pairs)} clips of {len(folds)} folds")
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

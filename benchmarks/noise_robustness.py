"""How the models hold up in a room: noise and echo, on speech none of them heard.

Each clip is played as a room plays it (sernet_edge.noise.Room; `sernet-edge evaluate --noise
--snr --reverb` does the same for one condition): the noise runs through the whole clip and a
second before and after it, its level set under the speech's; or the clip is played in
simulated rooms. Then it is classified as `evaluate` does it (the file gate, windows every
second, mean probabilities). Conditions: clean; white, pink, brown, babble (3-7 talkers of the
corpus's other speakers) and recorded noise (--noise-dir, kept apart from training's) at 30, 20,
10 and 5 dB; rooms of RT60 0.3, 0.6 and 0.9 s, speaker 1-3 m away, no noise.

Per model, condition and corpus: UAR on the corpus's own classes (the most probable of the
classes it has: the development corpora's criterion) and on all the model's classes, the share
of clips whose answer differs from the clean clip's, and every clip's estimated SNR; the mean
over the corpora. Results go to --out/<model>.json and a table over every model there.

    nice python benchmarks/noise_robustness.py -m multi -m multi-s -m multi-xs \\
        /data/nemo /data/urdu /data/turev-db --limit 150 --noise-dir /data/noise/test \\
        -o benchmarks/results/noise-robustness-<date>
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from sernet_edge import __version__
from sernet_edge.audio import audio_info, load_audio
from sernet_edge.bench.timing import machine_info
from sernet_edge.corpora import load_corpus
from sernet_edge.io import write_text
from sernet_edge.metrics import scores
from sernet_edge.noise import Room, Talkers, read_noise_files
from sernet_edge.runtime import EmotionClassifier, bundled_models

NOISES = ("white", "pink", "brown", "babble", "recorded")
SNRS = (30, 20, 10, 5)
RT60S = (0.3, 0.6, 0.9)
SEED = 1            # training's augmentation draws from other streams


def conditions(noise_dir: str | None) -> list[dict]:
    out = [{"name": "clean"}]
    for kind in NOISES:
        if kind == "recorded" and not noise_dir:
            continue
        out += [{"name": f"{kind} {snr} dB", "noise": kind, "snr_db": snr} for snr in SNRS]
    out += [{"name": f"RT60 {rt:g} s", "rt60": rt} for rt in RT60S]
    return out


def spread(items: list, n: int | None) -> list:
    items = sorted(items, key=lambda it: str(it.path))
    if n is None or n >= len(items):
        return items
    return [items[i * len(items) // n] for i in range(n)]


def run_model(model: str, corpora, conds, noises, limit) -> dict:
    clf = EmotionClassifier(model)
    report = {"model": model, "file": clf.path.name, "labels": clf.labels,
              "sernet_edge_version": __version__, "machine": machine_info(), "corpora": {}}
    for corpus in corpora:
        shared = [lab for lab in clf.labels if lab in corpus.labels]
        items = spread([it for it in corpus.items if it.label in shared], limit)
        talkers = Talkers([(str(it.path), it.speaker) for it in corpus.items], seed=SEED)
        clean_audio = {str(it.path): load_audio(it.path) for it in items}
        per = {}
        clean_answers = None
        for cond in conds:
            t0 = time.time()
            kind = cond.get("noise")
            room = Room(None if kind is None else ("files" if kind == "recorded" else kind),
                        cond.get("snr_db"), cond.get("rt60"), SEED,
                        noises=noises if kind == "recorded" else [], talkers=talkers)
            answers, shared_answers, snrs = [], [], []
            for it in items:
                x = clean_audio[str(it.path)]
                heard = room.apply(x, str(it.path.relative_to(corpus.root)), it.speaker)
                r = clf.classify_array(heard, recorded_rate=audio_info(it.path)[1])
                answers.append(r.label)
                p = r.probabilities
                shared_answers.append(max(shared, key=p.__getitem__) if p else r.label)
                snrs.append(r.snr_db)
            truth = [it.label for it in items]
            idx = {lab: i for i, lab in enumerate(clf.labels)}
            s_all = scores([idx[t] for t in truth], [idx.get(a, -1) for a in answers], clf.labels)
            s_sh = scores([idx[t] for t in truth], [idx.get(a, -1) for a in shared_answers], clf.labels)
            if clean_answers is None:
                clean_answers = answers
            changed = float(np.mean([a != c for a, c in zip(answers, clean_answers)]))
            per[cond["name"]] = {"uar_shared": round(100 * s_sh["uar"], 2),
                                 "uar_all": round(100 * s_all["uar"], 2),
                                 "changed_from_clean": round(100 * changed, 2),
                                 "no_speech": sum(a == "no speech" for a in answers),
                                 "answers": answers, "snr_db": snrs,
                                 "seconds": round(time.time() - t0, 1)}
            print(f"{model} {corpus.name} {cond['name']}: UAR {per[cond['name']]['uar_shared']:.1f} "
                  f"(changed {100 * changed:.0f} %)", file=sys.stderr)
        report["corpora"][corpus.name] = {"n": len(items), "classes": shared,
                                          "files": [str(it.path.relative_to(corpus.root)) for it in items],
                                          "truth": [it.label for it in items], "conditions": per}
    names = [c["name"] for c in conds]
    report["mean_uar_shared"] = {n: round(float(np.mean([c["conditions"][n]["uar_shared"]
                                                         for c in report["corpora"].values()])), 2)
                                 for n in names}
    return report


SNR_BINS = (-10, 0, 5, 10, 15, 20, 25, 30, 40)


def changed_by_snr(reports: list[dict]) -> list[tuple[float, float, int, float]]:
    """(low, high, clips, % whose answer differs from the clean clip's) per estimated-SNR bin."""
    pairs = []
    for r in reports:
        for c in r["corpora"].values():
            clean = c["conditions"]["clean"]["answers"]
            for name, cond in c["conditions"].items():
                if " dB" not in name:
                    continue
                pairs += [(snr, a != b) for snr, a, b in zip(cond["snr_db"], cond["answers"], clean)
                          if snr is not None]
    out = []
    for lo, hi in zip(SNR_BINS, SNR_BINS[1:]):
        inside = [ch for snr, ch in pairs if lo <= snr < hi]
        if inside:
            out.append((lo, hi, len(inside), 100 * float(np.mean(inside))))
    return out


def markdown(reports: list[dict], meta: dict) -> str:
    names = list(reports[0]["mean_uar_shared"])
    lines = [f"# The models in a room ({meta['date']})", "",
             f"Mean UAR (%) over {', '.join(meta['corpora'])} on each corpus's own classes, "
             f"{meta['limit'] or 'all'} clips a corpus spread over it; noise through each clip and "
             "1 s each side, SNR on the speech; rooms simulated (pyroomacoustics), speaker 1-3 m "
             f"away. Seed {SEED}. Machine: {reports[0]['machine'].get('cpu', '')}.", "",
             "| condition | " + " | ".join(r["model"] for r in reports) + " |",
             "|---|" + "---:|" * len(reports)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r['mean_uar_shared'][n]:.1f}" for r in reports) + " |")
    lines += ["", "Answers that differ from the clean clip's, by the SNR `classify` estimates for "
              "the noisy clip (every model, corpus and noise condition; rooms without noise and "
              "clips with no steady noise found are left out). The `noisy` warning's level is "
              "the highest bin where most answers change:", "",
              "| estimated SNR | clips | answers changed |", "|---|---:|---:|"]
    for lo, hi, n, share in changed_by_snr(reports):
        lines.append(f"| {lo:g} to {hi:g} dB | {n} | {share:.1f} % |")
    lines += ["", "Per corpus (UAR on its classes; in brackets the share of answers that differ "
              "from the clean clip's):", ""]
    for r in reports:
        lines += [f"**{r['model']}**", "", "| condition | " + " | ".join(r["corpora"]) + " |",
                  "|---|" + "---:|" * len(r["corpora"])]
        for n in names:
            cells = [f"{c['conditions'][n]['uar_shared']:.1f} ({c['conditions'][n]['changed_from_clean']:.0f} %)"
                     for c in r["corpora"].values()]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="*")
    ap.add_argument("-m", "--model", action="append", default=[],
                    help="a bundled model's name or a .tflite file (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="clips per corpus, spread evenly")
    ap.add_argument("--noise-dir", default=None, help="recorded noise for testing")
    ap.add_argument("-o", "--out", type=Path, required=True, help="folder for the results")
    ap.add_argument("--table-only", action="store_true",
                    help="only rewrite --out/README.md from the result files there")
    a = ap.parse_args(argv)
    if a.table_only:
        reports = [json.loads(p.read_text()) for p in sorted(a.out.glob("*.json"))]
        meta = {"date": reports[0]["date"], "corpora": list(reports[0]["corpora"]),
                "limit": reports[0]["limit"]}
        write_text(a.out / "README.md", markdown(reports, meta))
        return 0
    corpora = [load_corpus(p) for p in a.corpora]
    noises = read_noise_files([a.noise_dir]) if a.noise_dir else []
    conds = conditions(a.noise_dir)
    a.out.mkdir(parents=True, exist_ok=True)
    for model in a.model:
        report = run_model(model, corpora, conds, noises, a.limit)
        report.update({"limit": a.limit, "noise_dir": a.noise_dir, "date": date.today().isoformat()})
        name = model if model in bundled_models() else Path(model).stem
        write_text(a.out / f"{name}.json", json.dumps(report) + "\n")
    reports = [json.loads(p.read_text()) for p in sorted(a.out.glob("*.json"))]
    meta = {"date": date.today().isoformat(), "corpora": [c.name for c in corpora], "limit": a.limit}
    write_text(a.out / "README.md", markdown(reports, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())

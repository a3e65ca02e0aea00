"""How much lossy codecs and telephone bandwidth move the bundled model's answer.

Each clip is encoded with ffmpeg (MP3 at 128 kbps after upsampling to 44.1 kHz, as most MP3s
are; MP3 at 128/64/24 kbps at the clip's own 16 kHz, where LAME low-passes at about 7.5 kHz
(128 kbps) to 6 kHz (24 kbps); Opus in OGG at 24/12 kbps; 8 kHz PCM and 8 kHz G.711 mu-law,
the telephone band: nothing above 4 kHz; and, without any codec, the clean signal with
everything above 7 kHz removed, which separates bandwidth from coding noise), decoded by
sernet-edge exactly as
`sernet-edge classify` decodes a file, and classified by the bundled int8 model
(`EmotionClassifier.classify_file`: 3 s windows every 1 s, mean probabilities). Every
condition is compared with the clean WAV of the same clip:

  label changed   share of clips whose answer differs from the clean WAV's
  mean |dp|       mean over clips of the mean absolute probability change over the 7 classes
  top drop        mean change of the probability of the clean answer (negative: less sure)
  accuracy, UAR   against the corpus's intended emotion (CREMA-D: 6 classes, no boredom)

Also per condition: `flagged`, the share of clips whose result carries a warning about the
input (narrowband, band-limited above 7 kHz, or a rate below 16 kHz: what `classify` says), and `no speech`.
A clip answered "no speech" counts as uniform probabilities.

Sets of clips (`--corpus` takes any layout `sernet-edge data info` knows: for the default
`multi` model, which heard every CREMA-D and EMO-DB speaker, an evaluation-only corpus such
as nEMO is the unseen one):
  CREMA-D    a fixed sample of 50 clips per emotion, each from a different actor (seed
             below): unseen by the 7-class EMO-DB-only model this was first run with, heard
             in training by the bundled multi and emodb models
  EMO-DB     all 408 clips; every bundled model was trained on these speakers (03, 08-14)

    python benchmarks/lossy_codecs.py --crema-d /work/data/crema-d --emodb ../shared/data/emodb \\
        --out benchmarks/results/codecs-2026-11-25.json

Needs ffmpeg with libmp3lame and libopus (Debian: apt install ffmpeg). The markdown table is
written next to the JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np

from sernet_edge.audio import SAMPLE_RATE, load_audio
from sernet_edge.bench.timing import machine_info
from sernet_edge.io import write_text
from sernet_edge.metrics import scores
from sernet_edge.runtime import EmotionClassifier, bundled_clips

# name -> (file extension, ffmpeg output options); the input is the corpus's 16 kHz WAV
CONDITIONS = {
    "mp3-128k-44k": ("mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"]),
    "mp3-128k": ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "mp3-64k": ("mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
    "mp3-24k": ("mp3", ["-c:a", "libmp3lame", "-b:a", "24k"]),
    "opus-24k": ("ogg", ["-c:a", "libopus", "-b:a", "24k"]),
    "opus-12k": ("ogg", ["-c:a", "libopus", "-b:a", "12k"]),
    "phone-8k": ("wav", ["-ar", "8000", "-c:a", "pcm_s16le"]),
    "g711-8k": ("wav", ["-ar", "8000", "-c:a", "pcm_mulaw"]),
    "lowpass-7k": (None, 7000.0),   # no codec: the clean signal with nothing above 7 kHz
}
CONDITION_TEXT = {
    "mp3-128k-44k": "MP3 128 kbps at 44.1 kHz", "mp3-128k": "MP3 128 kbps (16 kHz)",
    "mp3-64k": "MP3 64 kbps (16 kHz)", "mp3-24k": "MP3 24 kbps (16 kHz)",
    "opus-24k": "Opus 24 kbps (OGG)", "opus-12k": "Opus 12 kbps (OGG)",
    "phone-8k": "8 kHz PCM, resampled back", "g711-8k": "8 kHz G.711 mu-law",
    "lowpass-7k": "no codec, nothing above 7 kHz",
}
CREMA_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
                  "NEU": "neutral", "SAD": "sadness"}
EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                  "T": "sadness", "N": "neutral"}
CREMA_PER_EMOTION = 50
SEED = 20261125


def crema_sample(root: Path, per_emotion: int = CREMA_PER_EMOTION, seed: int = SEED) -> list[tuple[Path, str, str]]:
    """(path, emotion, actor): `per_emotion` clips per emotion, each from a different actor
    (actors drawn at random per emotion, then one of that actor's clips at random)."""
    by = defaultdict(list)
    for p in sorted(root.rglob("*.wav")):
        parts = p.stem.split("_")
        if len(parts) == 4 and parts[2] in CREMA_EMOTIONS:
            by[(parts[2], parts[0])].append(p)
    rng = np.random.default_rng(seed)
    out = []
    for code in sorted(CREMA_EMOTIONS):
        actors = sorted(a for (c, a) in by if c == code)
        for actor in sorted(rng.choice(actors, size=min(per_emotion, len(actors)), replace=False)):
            clips = by[(code, actor)]
            out.append((clips[int(rng.integers(len(clips)))], CREMA_EMOTIONS[code], actor))
    return out


def corpus_sample(folder: Path, labels, per_emotion: int, seed: int = SEED):
    """(corpus, [(path, emotion, speaker)]): up to `per_emotion` clips of each of the model's
    classes the corpus has, drawn at random (the same seed, the same clips)."""
    from sernet_edge.corpora import load_corpus
    corpus = load_corpus(folder)
    rng = np.random.default_rng(seed)
    out = []
    for emotion in labels:
        items = sorted((it for it in corpus.items if it.label == emotion), key=lambda it: str(it.path))
        for i in sorted(rng.choice(len(items), size=min(per_emotion, len(items)), replace=False)) if items else []:
            out.append((items[i].path, emotion, items[i].speaker))
    return corpus, out


def emodb_clips(root: Path) -> list[tuple[Path, str, str]]:
    wav = root / "wav" if (root / "wav").is_dir() else root
    return [(p, EMODB_EMOTIONS[p.stem[5]], p.stem[:2]) for p in sorted(wav.glob("*.wav"))
            if len(p.stem) >= 6 and p.stem[5] in EMODB_EMOTIONS]


def encode(ffmpeg: str, src: Path, folder: Path, name: str) -> Path:
    ext, opts = CONDITIONS[name]
    if ext is None:
        return src
    out = folder / f"{src.stem}.{name}.{ext}"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-ac", "1", *opts, str(out)],
                   check=True, capture_output=True)
    return out


def measure(clf, ffmpeg: str, clips, progress: str) -> list[dict]:
    """Per clip: the clean answer and each condition's, as probability vectors."""
    rows, start = [], time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        folder = Path(tmp)
        for i, (path, emotion, speaker) in enumerate(clips):
            coded = dict(zip(CONDITIONS, pool.map(lambda n: encode(ffmpeg, path, folder, n), CONDITIONS)))
            row = {"file": path.name, "emotion": emotion, "speaker": speaker,
                   "clean": probs(clf, path)}
            for name, p in coded.items():
                row[name] = probs(clf, p, CONDITIONS[name])
                if p != path:
                    p.unlink()
            rows.append(row)
            if (i + 1) % 50 == 0 or i + 1 == len(clips):
                print(f"{progress}: {i + 1}/{len(clips)} clips, {time.monotonic() - start:.0f} s",
                      file=sys.stderr, flush=True)
    return rows


def probs(clf, path, condition=("wav", None)) -> list[float]:
    """The answer's probabilities (uniform for "no speech"), then 1 if the result warns of
    narrowband or band-limited input, then 1 if it found no speech."""
    r = classify(clf, path, condition)
    flagged = int(any(w["code"] in ("narrowband", "band_limited", "low_rate") for w in r.warnings))
    if r.probabilities is None:
        return [round(1 / len(clf.labels), 5)] * len(clf.labels) + [flagged, 1]
    return [round(r.probabilities[lab], 5) for lab in clf.labels] + [flagged, 0]


def classify(clf, path, condition=("wav", None)):
    """`classify_file`, or for a codec-free condition the clean samples, band-limited."""
    ext, cutoff = condition
    if ext is not None:
        return clf.classify_file(path)
    x = load_audio(path)
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE) > cutoff] = 0
    return clf.classify_array(np.fft.irfft(spectrum, len(x)).astype(np.float32))


def summarise(rows: list[dict], labels: list[str]) -> dict:
    truth = [labels.index(r["emotion"]) for r in rows]
    n = len(labels)
    clean = np.array([r["clean"][:n] for r in rows])
    clean_top = clean.argmax(axis=1)
    out = {}
    for name in ["clean", *CONDITIONS]:
        full = np.array([r[name] for r in rows])
        p = full[:, :n]
        s = scores(truth, p.argmax(axis=1), labels)   # UAR over the emotions the corpus has
        idx = np.arange(len(rows))
        out[name] = {
            "n": len(rows),
            "label_changed": float(np.mean(p.argmax(axis=1) != clean_top)),
            "mean_abs_dp": float(np.mean(np.abs(p - clean))),
            "max_abs_dp": float(np.max(np.abs(p - clean))),
            "top_drop": float(np.mean(p[idx, clean_top] - clean[idx, clean_top])),
            "accuracy": float(s["wa"]), "uar": float(s["uar"]),
            "flagged": float(np.mean(full[:, n])) if full.shape[1] > n else None,
            "no_speech": float(np.mean(full[:, n + 1])) if full.shape[1] > n + 1 else None,
        }
    return out


def bundled_examples(clf, ffmpeg: str) -> list[dict]:
    """The seven bundled clips under every condition: label and confidence."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in bundled_clips():
            r = clf.classify_file(path)
            row = {"file": path.name, "clean": [r.label, round(r.confidence or 0, 3)]}
            for name in CONDITIONS:
                c = classify(clf, encode(ffmpeg, path, Path(tmp), name), CONDITIONS[name])
                row[name] = [c.label, round(c.confidence or 0, 3)]
            out.append(row)
    return out


def to_json(result: dict) -> str:
    """Indented, with one line per clip, so that the per-clip table stays small."""
    result, rows = copy.deepcopy(result), {}
    for corpus in result["corpora"].values():
        keys = [f"@clip{len(rows) + i}@" for i in range(len(corpus["clips"]))]
        rows.update({k: json.dumps(r, separators=(",", ":")) for k, r in zip(keys, corpus["clips"])})
        corpus["clips"] = keys
    text = json.dumps(result, indent=2)
    for key, row in rows.items():
        text = text.replace(f'"{key}"', row, 1)
    return text + "\n"


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# Lossy codecs and telephone audio ({result['date']})", "",
             f"Bundled model `{result['model']}`, `EmotionClassifier.classify_file` (3 s windows "
             f"every 1 s, mean probabilities); ffmpeg {result['ffmpeg']}; {m.get('cpu', '?')}, "
             f"{m.get('platform', '?')}, Python {m.get('python', '?')}, numpy {m.get('numpy', '?')}. "
             "Each condition is compared with the clean WAV of the same clip.", ""]
    for key, c in result["corpora"].items():
        title = c.get("title") or {"crema_d": "CREMA-D", "emodb": "EMO-DB"}.get(key, key)
        flags = "flagged" in c["summary"]["clean"]
        lines += [f"## {title} ({c['summary']['clean']['n']} clips)", "", c["note"], "",
                  "| condition | label changed | mean abs. dp | top-class change | accuracy | UAR |"
                  + (" flagged band-limited | no speech |" if flags else ""),
                  "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if flags else "")]
        for name, s in c["summary"].items():
            text = "clean WAV" if name == "clean" else CONDITION_TEXT[name]
            changed = "-" if name == "clean" else f"{100 * s['label_changed']:.1f}%"
            dp = "-" if name == "clean" else f"{s['mean_abs_dp']:.3f}"
            top = "-" if name == "clean" else f"{s['top_drop']:+.3f}"
            lines.append(f"| {text} | {changed} | {dp} | {top} | {100 * s['accuracy']:.1f} | "
                         f"{100 * s['uar']:.1f} |" + (f" {100 * s['flagged']:.1f}% | "
                                                     f"{100 * s['no_speech']:.1f}% |" if flags else ""))
        lines.append("")
    lines += ["## The bundled clips", "", "| clip | clean | " + " | ".join(CONDITIONS) + " |",
              "|---|---|" + "---|" * len(CONDITIONS)]
    for row in result["bundled_clips"]:
        cells = [f"{lab} {conf:.2f}" for lab, conf in (row[k] for k in ["clean", *CONDITIONS])]
        lines.append(f"| {row['file']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crema-d", type=Path, default=None, help="folder holding CREMA-D's WAVs")
    ap.add_argument("--emodb", type=Path, default=None, help="EMO-DB folder (with wav/)")
    ap.add_argument("--per-emotion", type=int, default=CREMA_PER_EMOTION)
    ap.add_argument("--limit", type=int, default=None, help="at most this many clips per corpus (a quick look)")
    ap.add_argument("--corpus", type=Path, action="append", default=[],
                    help="any corpus folder (repeatable): --per-emotion clips per emotion drawn "
                         "over its speakers")
    ap.add_argument("-m", "--model", default="multi", help="bundled model name or .tflite file")
    ap.add_argument("--out", type=Path, required=True, help="JSON file; the .md goes beside it")
    args = ap.parse_args()

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg is needed: apt install ffmpeg")
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split()[2]
    clf = EmotionClassifier(args.model, num_threads=1)
    result = {"date": date.today().isoformat(), "model": clf.path.name,
              "ffmpeg": version, "machine": machine_info(),
              "conditions": {k: {"text": CONDITION_TEXT[k], "container": v[0],
                                 **({"ffmpeg": v[1]} if v[0] else {"lowpass_hz": v[1]})}
                             for k, v in CONDITIONS.items()},
              "corpora": {}}
    sets = []
    if args.crema_d:
        sets.append(("crema_d", crema_sample(args.crema_d, args.per_emotion),
                     f"{args.per_emotion} clips per emotion, each from a different actor, drawn "
                     f"with seed {SEED} (`crema_sample`)."))
    if args.emodb:
        sets.append(("emodb", emodb_clips(args.emodb),
                     "All EMO-DB clips. The bundled models were trained on these speakers (03, "
                     "08-14), so accuracy here is optimistic; the changes are measured on voices "
                     "they know."))
    for folder in args.corpus:
        corpus, clips = corpus_sample(folder, clf.labels, args.per_emotion)
        sets.append((corpus.name, clips,
                     f"{corpus.name}: up to {args.per_emotion} clips per emotion the model has, "
                     f"drawn over its speakers with seed {SEED} (`corpus_sample`)."))
    for key, clips, note in sets:
        clips = clips[:args.limit] if args.limit else clips
        rows = measure(clf, ffmpeg, clips, key)
        result["corpora"][key] = {"note": note, "summary": summarise(rows, clf.labels),
                                  "labels": clf.labels, "clips": rows}
    result["bundled_clips"] = bundled_examples(clf, ffmpeg)
    write_text(args.out, to_json(result))
    write_text(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

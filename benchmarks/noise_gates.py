"""How much of a room's noise the speech gates answer, and how much speech they keep.

Each clip is played as a room plays it (sernet_edge.noise.Room): 2 s of noise alone before and
after the speech, the noise running under it too, at 30, 20 and 10 dB SNR on the speech. The
speech's time is what the file gate keeps of the clean clip; the noise-only time is the 2 s
each side. For each gate:

  files   the file gate (`classify`, `evaluate`): the share of noise-only seconds it keeps
          (they would be answered) and the share of speech seconds it keeps
  live    `listen`'s gate on 0.5 s hops: the share of noise-only hops it passes and of hops
          that are mostly speech it passes

Gates: `energy` before noise was measured (a floor 30 dB under the loudest frame, -60 to
-45 dBFS; live -45 dBFS), `energy` tracking the noise (the default now), and WebRTC VAD over
each (needs the [vad] extra). Noises: white, pink, brown (steady), babble (3-7 talkers of
other speakers), and recorded noise (changing: give --noise-dir).

    python benchmarks/noise_gates.py /path/to/emodb /path/to/crema-d --per-corpus 60 \\
        --noise-dir /path/to/noise/test -o benchmarks/results/noise-gates-<date>.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

from sernet_edge.audio import SAMPLE_RATE, load_audio
from sernet_edge.bench.timing import machine_info
from sernet_edge.corpora import load_corpus
from sernet_edge.io import write_text
from sernet_edge.noise import Room, Talkers, read_noise_files
from sernet_edge.speech import SpeechTrack, recording_gate, speech_only
from sernet_edge.vad import DEFAULT_ENERGY_DB, make_gate, webrtc_available

PAD_SECONDS = 2.0
HOP_SECONDS = 0.5
SNRS = (30, 20, 10)


def kept_mask(y: np.ndarray, vad: str, track_noise: bool) -> np.ndarray:
    """Per sample: did the file gate keep it?"""
    track = SpeechTrack(SAMPLE_RATE)
    gate, floor = recording_gate(lambda: [y], SAMPLE_RATE, vad, track, track_noise)
    for _ in speech_only([y], gate, SAMPLE_RATE, track, floor):
        pass
    mask = np.zeros(len(y), bool)
    for seg in track.segments:
        mask[seg.start:seg.start + seg.length] = True
    return mask


def live_passes(y: np.ndarray, vad: str, track_noise: bool) -> np.ndarray:
    """Per 0.5 s hop: did listen's gate pass it?"""
    from sernet_edge.vad import level_dbfs
    gate = make_gate(vad, SAMPLE_RATE, DEFAULT_ENERGY_DB, track_noise=track_noise)
    hop = int(HOP_SECONDS * SAMPLE_RATE)
    return np.array([gate.is_speech(y[i:i + hop], level_dbfs(y[i:i + hop]))
                     for i in range(0, len(y) - hop + 1, hop)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="+", help="corpus folders (clean speech)")
    ap.add_argument("--per-corpus", type=int, default=60, help="clips per corpus, spread evenly")
    ap.add_argument("--noise-dir", default=None, help="recorded noise (kept apart from training's)")
    ap.add_argument("--seed", type=int, default=1, help="noise draws (training uses others)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="result .json (.md beside it)")
    a = ap.parse_args(argv)

    clips = []
    for folder in a.corpora:
        corpus = load_corpus(folder)
        items = sorted(corpus.items, key=lambda it: str(it.path))
        step = max(1, len(items) // a.per_corpus)
        clips += [(corpus.name, it) for it in items[::step][:a.per_corpus]]
    talkers = Talkers([(str(it.path), f"{c}/{it.speaker}") for c, it in clips], seed=a.seed)
    noises = read_noise_files([a.noise_dir]) if a.noise_dir else []
    kinds = ["white", "pink", "brown", "babble"] + (["recorded"] if noises else [])
    gates = [("energy", False), ("energy", True)]
    if webrtc_available():
        gates += [("webrtc", False), ("webrtc", True)]
    rows = []
    for kind in kinds:
        for snr in SNRS:
            room = Room("files" if kind == "recorded" else kind, snr, seed=a.seed,
                        pad_seconds=PAD_SECONDS, noises=noises, talkers=talkers)
            tally = {g: np.zeros(8) for g in gates}
            for name, it in clips:
                x = load_audio(it.path)
                speech = kept_mask(x, "energy", False)        # the clean clip's speech
                y = room.apply(x, str(it.path), f"{name}/{it.speaker}")
                pad = int(PAD_SECONDS * SAMPLE_RATE)
                truth = np.zeros(len(y), bool)
                truth[pad:pad + len(x)] = speech
                noise_only = np.ones(len(y), bool)
                noise_only[pad:pad + len(x)] = False
                hop = int(HOP_SECONDS * SAMPLE_RATE)
                n_hops = (len(y) - hop) // hop + 1
                hop_noise = np.array([noise_only[i * hop:(i + 1) * hop].all() for i in range(n_hops)])
                hop_speech = np.array([truth[i * hop:(i + 1) * hop].mean() >= 0.5 for i in range(n_hops)])
                for g in gates:
                    kept = kept_mask(y, *g)
                    live = live_passes(y, *g)
                    tally[g] += [np.sum(kept & noise_only), noise_only.sum(),
                                 np.sum(kept & truth), truth.sum(),
                                 np.sum(live & hop_noise), hop_noise.sum(),
                                 np.sum(live & hop_speech), hop_speech.sum()]
            for (vad, track), t in tally.items():
                rows.append({"noise": kind, "snr_db": snr, "gate": vad,
                             "tracks_noise": track,
                             "files_noise_answered": round(100 * t[0] / max(t[1], 1), 2),
                             "files_speech_kept": round(100 * t[2] / max(t[3], 1), 2),
                             "live_noise_hops_passed": round(100 * t[4] / max(t[5], 1), 2),
                             "live_speech_hops_passed": round(100 * t[6] / max(t[7], 1), 2),
                             "noise_seconds": round(t[1] / SAMPLE_RATE, 1),
                             "speech_seconds": round(t[3] / SAMPLE_RATE, 1)})
                print(json.dumps(rows[-1]), file=sys.stderr)
    result = {"benchmark": "noise-gates", "date": date.today().isoformat(),
              "machine": machine_info(), "clips": len(clips),
              "corpora": sorted({c for c, _ in clips}), "pad_seconds": PAD_SECONDS,
              "hop_seconds": HOP_SECONDS, "seed": a.seed, "noise_dir": a.noise_dir,
              "rows": rows}
    write_text(a.out, json.dumps(result, indent=1) + "\n")
    write_text(a.out.with_suffix(".md"), markdown(result))
    return 0


def markdown(r: dict) -> str:
    lines = [f"# Speech gates in a room's noise ({r['date']})", "",
             f"{r['clips']} clips ({', '.join(r['corpora'])}), {r['pad_seconds']:g} s of noise "
             "alone each side, the noise under the speech too; SNR on the speech. In %: noise-only "
             "time answered and speech kept, by the file gate (per sample) and by listen's "
             f"gate ({r['hop_seconds']:g} s hops). Machine: {r['machine'].get('cpu', '')}.", "",
             "| noise | SNR dB | gate | tracks noise | files: noise answered | files: speech kept "
             "| live: noise hops passed | live: speech hops passed |",
             "|---|---:|---|---|---:|---:|---:|---:|"]
    for x in r["rows"]:
        lines.append(f"| {x['noise']} | {x['snr_db']} | {x['gate']} | "
                     f"{'yes' if x['tracks_noise'] else 'no'} | {x['files_noise_answered']:.1f} | "
                     f"{x['files_speech_kept']:.1f} | {x['live_noise_hops_passed']:.1f} | "
                     f"{x['live_speech_hops_passed']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

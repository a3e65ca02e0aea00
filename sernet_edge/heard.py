"""Which speakers a model heard in training, and which clips of a corpus are theirs.

A score on speakers the model was trained on is optimistic: the bundled `multi` gets about 94
UAR on all of EMO-DB, whose speakers 03 and 08-14 it was trained on, and about 70 on German
speakers it never heard (docs/results.md). `evaluate` marks every clip, speaker and corpus the
model heard in training, from its card:

- `source.heard`: {corpus: [speaker, ...]} of every clip that shaped the weights, a start
  model's (`train --init`) included. `train` writes it into every new model's card, and
  `convert` copies the card's `source` into each .tflite's card.
- Cards from before (the bundled models' included: their files stay byte-identical) list the
  final model's training speakers in `source.speakers` (`corpus/speaker` for a union of
  corpora, else the speaker of `source.corpus`); a start model named in
  `training.init_from` adds its own, where it is a bundled model (matched by its weights).

A clip is the same speaker's when the corpus and the speaker agree. Corpus names are reduced to
their layout (`crema-d-agreed` is CREMA-D), and a clip whose file name follows a known corpus's
naming (EMO-DB's `03a01Wa.wav`, CREMA-D's `1001_DFA_ANG_XX.wav`) is that corpus's speaker
wherever it lies: a folder per label of EMO-DB clips is still EMO-DB's speakers 03 and 08.

No TensorFlow: the device side reads this.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTE = "heard in training: scores are optimistic"
HEARD, UNHEARD = "heard in training", "never heard"
CARD_KEY = "heard"          # source.heard in a card


def _named_corpora():
    """(corpus name, file-name pattern, speaker group) of the corpora whose file names say the
    speaker."""
    from sernet_edge.corpora import crema_d, emodb, nemo, ravdess, tess, turev_db, urdu
    return ((emodb.NAME, emodb.FILE, "speaker"), (crema_d.NAME, crema_d.FILE, "actor"),
            (ravdess.NAME, ravdess.FILE, "actor"), (tess.NAME, tess.FILE, "speaker"),
            (nemo.NAME, nemo.FILE, "speaker"), (urdu.NAME, urdu.FILE, "speaker"),
            (turev_db.NAME, turev_db.FILE, "speaker"))


def canonical(corpus_name: str) -> str:
    """A corpus's name as cards compare it: its layout's (`crema-d-agreed` -> `crema-d`,
    `iemocap-improvised` -> `iemocap`); a folder corpus keeps its folder's name."""
    from sernet_edge.corpora import LAYOUTS, folder, layout_of
    layout = layout_of(corpus_name)
    if layout is None or layout is folder or layout not in LAYOUTS.values():
        return corpus_name
    return layout.NAME


def identify(path, corpus: str, speaker: str) -> tuple[str, str]:
    """(corpus, speaker) of a clip: from its file name where that follows a known corpus's
    naming, else the corpus's name (canonical) and the speaker its layout gave (without the
    `corpus/` prefix a union of corpora adds)."""
    name = Path(path).name
    for corpus_name, pattern, group in _named_corpora():
        m = pattern.match(name)
        if m:
            return corpus_name, m[group]
    if corpus and speaker.startswith(corpus + "/"):
        speaker = speaker[len(corpus) + 1:]
    return canonical(corpus), speaker


def of_corpus(corpus) -> dict[str, list[str]]:
    """{corpus: sorted speakers} of every clip of a (training) corpus."""
    heard: dict[str, set[str]] = {}
    for it in corpus.items:
        c, s = identify(it.path, it.corpus or corpus.name, it.speaker)
        heard.setdefault(c, set()).add(s)
    return {c: sorted(s) for c, s in sorted(heard.items())}


def for_card(corpus, start_card: dict | None = None) -> dict[str, list[str]]:
    """What a new model's card records as `source.heard`: the training corpus's speakers and,
    for a run started from another model, that model's."""
    heard = {c: set(s) for c, s in of_corpus(corpus).items()}
    for c, speakers in (trained_on(start_card) or {}).items() if start_card else ():
        heard.setdefault(c, set()).update(speakers)
    return {c: sorted(s) for c, s in sorted(heard.items())}


def trained_on(card: dict, _seen: frozenset = frozenset()) -> dict[str, set[str]] | None:
    """{corpus: speakers} whose clips the model heard in training, or None when its card does
    not say (a card written without its training corpus)."""
    source = card.get("source") or {}
    if isinstance(source.get(CARD_KEY), dict):
        return {canonical(c): set(s) for c, s in source[CARD_KEY].items()}
    speakers = source.get("speakers")
    if not isinstance(speakers, list):
        return None
    parts = set(source.get("corpora") or {})
    own = str(source.get("corpus") or "")
    heard: dict[str, set[str]] = {}
    for spk in speakers:
        corpus, _, rest = str(spk).partition("/")
        if not (rest and corpus in parts):
            corpus, rest = own, str(spk)
        heard.setdefault(canonical(corpus), set()).add(rest)
    start = _bundled_start(card, _seen)
    for c, s in (start or {}).items():
        heard.setdefault(c, set()).update(s)
    return heard


def _bundled_start(card: dict, seen: frozenset) -> dict[str, set[str]] | None:
    """What the bundled model a card's run started from heard (matched by its weights)."""
    start = (card.get("training") or {}).get("init_from") or {}
    digest = start.get("weights_sha256") if isinstance(start, dict) else None
    if not digest or digest in seen:
        return None
    from sernet_edge.card import read_card
    from sernet_edge.runtime import bundled_models
    for path in bundled_models().values():
        try:
            other = read_card(path)
        except Exception:  # noqa: BLE001 - a damaged bundled file says nothing here
            continue
        if other.get("weights_sha256") == digest:
            return trained_on(other, seen | {digest})
    return None


def is_heard(heard: dict[str, set[str]] | None, path, corpus: str, speaker: str) -> bool | None:
    """Whether the model heard this clip's speaker in training; None when its card does not say."""
    if heard is None:
        return None
    c, s = identify(path, corpus, speaker)
    return s in heard.get(c, ())


def describe(heard: dict[str, set[str]] | None) -> dict | None:
    """{corpus: sorted speakers} for a report."""
    return None if heard is None else {c: sorted(s) for c, s in sorted(heard.items())}


def speaker_list(speakers, show: int = 12) -> str:
    """`03, 08, 09` or the first ones and a count, with runs of numbers joined (`03, 08-14`)."""
    speakers = sorted(speakers)
    out, i = [], 0
    while i < len(speakers):
        j = i
        while j + 1 < len(speakers) and _next(speakers[j], speakers[j + 1]):
            j += 1
        out.append(speakers[i] if j - i < 2 else f"{speakers[i]}-{speakers[j]}")
        if j - i == 1:
            out.append(speakers[j])
        i = j + 1
    if len(out) > show:
        return ", ".join(out[:show]) + f", ... ({len(speakers)} speakers)"
    return ", ".join(out)


def _next(a: str, b: str) -> bool:
    return bool(re.fullmatch(r"\d+", a) and re.fullmatch(r"\d+", b) and len(a) == len(b)
                and int(b) == int(a) + 1)


# ---- evaluate's report ----

def mark(report: dict, corpus_name: str, heard: dict[str, set[str]] | None, summarise) -> None:
    """Mark a corpus report of `evaluate` (its clips scored): each clip and speaker `heard`
    (True/False; a speaker with clips of both kinds gets None and `heard_clips`), and, where
    the model heard any clip, `heard_in_training` and `never_heard`: n, speakers and scores of
    each part (`summarise(clips)` as `evaluate` scores a corpus). Nothing where the card does
    not say what the model heard."""
    if heard is None:
        return
    clips = report["clips"]
    for c in clips:
        c["heard"] = is_heard(heard, c["file"], corpus_name, c["speaker"])
    split(report, clips, summarise)


def split(report: dict, clips: list[dict], summarise) -> None:
    """`heard_in_training` and `never_heard` of a report over `clips` (marked by `mark`), and
    each of its speakers' `heard`."""
    by_speaker: dict[str, list[bool]] = {}
    for c in clips:
        by_speaker.setdefault(c["speaker"], []).append(bool(c.get("heard")))
    for spk, flags in by_speaker.items():
        entry = report.get("speakers", {}).get(spk)
        if entry is not None:
            entry["heard"] = all(flags) if all(flags) or not any(flags) else None
            if entry["heard"] is None:
                entry["heard_clips"] = sum(flags)
    parts = {HEARD: [c for c in clips if c.get("heard")],
             UNHEARD: [c for c in clips if not c.get("heard")]}
    if not parts[HEARD]:
        return
    for key, name in (("heard_in_training", HEARD), ("never_heard", UNHEARD)):
        part = parts[name]
        if part:
            s = summarise(part)
            report[key] = {"n": s["n"], "speakers": sorted({c["speaker"] for c in part}),
                           **({"note": NOTE} if name == HEARD else {}),
                           "counts": s["counts"], "scores": s["scores"]}


def rows(report: dict) -> list[tuple[str, dict]]:
    """The sub-rows of a corpus's table row: its heard and never-heard parts, where it has both."""
    if "heard_in_training" in report and "never_heard" in report:
        return [(f"  {HEARD}", report["heard_in_training"]), (f"  {UNHEARD}", report["never_heard"])]
    return []


def flag(report: dict) -> str:
    """What a table row says after its scores: `*` where the model heard its clips."""
    if report.get("note") == NOTE:          # the heard part's own row
        return "  *"
    if "heard_in_training" not in report:
        return ""
    part = report["heard_in_training"]
    if "never_heard" not in report:
        return "  *"
    return f"  * {part['n']} of {report['n']} clips heard"


def footnote(results: list[dict], card: dict | None = None) -> list[str]:
    """Lines under the table: what `*` means, whom the model heard (from its `card`), and
    which rows are the fair ones."""
    marked = [r for r in results if "heard_in_training" in r]
    if not marked:
        known = any("heard" in c for r in results for c in r["clips"][:1])
        return [] if known else ["the model's card does not say which speakers it was trained on"]
    lines = [f"* {NOTE} (the model was trained on these speakers)"]
    heard = trained_on(card) if card else None
    if heard:
        lines.append("  it heard: " + "; ".join(f"{c} {speaker_list(s)}" for c, s in sorted(heard.items())))
    mixed = [r["name"] for r in marked if "never_heard" in r]
    if mixed:
        lines.append(f"  {', '.join(mixed)}: the '{UNHEARD}' row is the fair estimate")
    else:
        lines.append("  score it on speakers it never heard for a fair estimate")
    return lines


def speaker_table(results: list[dict], width: int = 100) -> list[str]:
    """UAR per speaker of each corpus, heard in training apart from never heard (`emodb:`, so
    that a corpus's bare name starts only its row of the table)."""
    out = ["UAR per speaker, in % (clips)"]
    name_w = max(len(r["name"]) for r in results)
    known = any("heard" in s for r in results for s in r["speakers"].values())
    group_w = len(HEARD) + 2 if known else 0
    for r in results:
        groups: dict[str, list[str]] = {}
        for spk, s in r["speakers"].items():
            h = s.get("heard")
            group = "" if not known else f"{HEARD} *" if h else UNHEARD if h is False else "partly heard"
            groups.setdefault(group, []).append(f"{spk} {100 * s['uar']:.1f} ({s['n']})")
        first = True
        for group in sorted(groups, key=lambda g: (g != f"{HEARD} *", g)):
            lead = f"  {r['name'] + ':' if first else '':<{name_w + 1}}  {group:<{group_w}}"
            first = False
            line, cells = lead, 0
            for cell in groups[group]:
                if cells and len(line) + 2 + len(cell) > width:
                    out.append(line.rstrip())
                    line, cells = " " * len(lead), 0
                line += "  " + cell
                cells += 1
            out.append(line.rstrip())
    return out

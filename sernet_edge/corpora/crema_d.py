"""CREMA-D (Cao et al. 2014): 91 English-speaking actors, 6 emotions, 1001_DFA_ANG_XX.wav.

The intended emotion is the label by default. The crowd's voice-only votes
(summaryTable.csv, shipped with the corpus's metadata) give two other choices: "agreed"
keeps only clips whose vote includes the intended emotion, "voice" takes the vote itself
as the label (ties dropped)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sernet_edge.corpora.base import Corpus, Item, audio_files, names_match
from sernet_edge.errors import CorpusError

NAME = "crema-d"
ATTRIBUTION = ("CREMA-D, Cao et al., IEEE Trans. Affective Computing 5(4):377-390, 2014, "
               "doi:10.1109/TAFFC.2014.2336244; Open Database License 1.0, contents under the "
               "Database Contents License 1.0")
LICENCE = "ODbL-1.0 (contents DbCL-1.0)"
COMMERCIAL_USE = True
EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
            "NEU": "neutral", "SAD": "sadness"}
VOTES = {"A": "anger", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral", "S": "sadness"}
FILE = re.compile(r"^(?P<actor>1\d{3})_(?P<sentence>[A-Z]{3})_(?P<emotion>ANG|DIS|FEA|HAP|NEU|SAD)"
                  r"_(?P<level>[A-Z]{1,2})\.wav$")
LABEL_SOURCES = ("intended", "agreed", "voice")
VOTES_FILE = "summaryTable.csv"


def detect(root: Path) -> bool:
    return names_match(root, FILE)


def actor_sex() -> dict[str, str]:
    """Sex of each actor, from the corpus's VideoDemographics.csv (bundled)."""
    path = Path(__file__).with_name("crema_d_actors.tsv")
    rows = path.read_text().splitlines()[1:]
    return dict(row.split("\t") for row in rows if row)


def find_votes(root: Path, votes=None) -> Path | None:
    if votes:
        return Path(votes)
    for folder in (root, root.parent):
        if (folder / VOTES_FILE).is_file():
            return folder / VOTES_FILE
    return None


def read_votes(path: Path) -> dict[str, list[str]]:
    """Clip name (no extension) -> the emotions of its voice-only vote (ties give several)."""
    try:
        with open(path, newline="") as f:
            return {row["FileName"]: [VOTES[v] for v in row["VoiceVote"].split(":") if v in VOTES]
                    for row in csv.DictReader(f)}
    except (OSError, KeyError, csv.Error) as e:
        raise CorpusError(f"{path}: not a CREMA-D {VOTES_FILE} ({e})") from None


def load(root, label_source: str = "intended", votes=None, **_) -> Corpus:
    root = Path(root)
    if label_source not in LABEL_SOURCES:
        raise CorpusError(f"unknown CREMA-D label source {label_source!r} "
                          f"(use {', '.join(LABEL_SOURCES)})")
    vote_of = None
    if label_source != "intended":
        path = find_votes(root, votes)
        if path is None or not path.is_file():
            raise CorpusError(f"{root}: labels from voice votes need {VOTES_FILE} in the corpus "
                              "folder or beside it (or give --votes FILE)")
        vote_of = read_votes(path)
    sex = actor_sex()
    items, seen = [], set()
    for p in audio_files(root, ".wav"):
        m = FILE.match(p.name)
        if not m or p.name in seen:   # copies of the corpus split into folders may repeat a clip
            continue
        seen.add(p.name)
        label = EMOTIONS[m["emotion"]]
        if vote_of is not None:
            voted = vote_of.get(p.stem, [])
            if label_source == "agreed" and label not in voted:
                continue
            if label_source == "voice":
                if len(voted) != 1:
                    continue
                label = voted[0]
        items.append(Item(p, label, m["actor"], NAME, sex.get(m["actor"], "")))
    name = NAME if label_source == "intended" else f"{NAME}-{label_source}"
    return Corpus(name, root, sorted(EMOTIONS.values()), [
        Item(it.path, it.label, it.speaker, name, it.sex) for it in items])

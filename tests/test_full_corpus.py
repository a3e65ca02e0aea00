"""Checks on the full EMO-DB folder (../shared/data/emodb) and the full CREMA-D audio
(SERNET_CREMA_D); each skipped with the reason if absent."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import SHARED_CREMA_D

from sernet_edge.cli import main
from sernet_edge.corpora import load_corpus
from sernet_edge.runtime import EmotionClassifier

COUNTS = {"anger": 100, "boredom": 58, "disgust": 30, "fear": 54, "happiness": 54,
          "neutral": 63, "sadness": 49}
SPEAKERS = {"03": 49, "08": 58, "09": 43, "10": 38, "11": 55, "12": 35, "13": 61, "14": 69}


def test_corpus_counts(emodb_full):
    corpus = load_corpus(emodb_full)
    assert corpus.name == "emodb" and len(corpus.items) == 408
    counts = corpus.counts()
    assert dict(counts["label"]) == COUNTS
    assert dict(counts["speaker"]) == SPEAKERS


def test_data_info_prints_exact_counts(emodb_full):
    res = CliRunner().invoke(main, ["data", "info", str(emodb_full)])
    assert res.exit_code == 0, res.output
    assert "files    408   classes 7   speakers 8" in res.output
    for label, n in COUNTS.items():
        assert f"  {label:<12} {n:>6}" in res.output


def test_bundled_model_card_describes_this_corpus(emodb_full):
    """The 7-class model learnt EMO-DB's every clip (with CREMA-D); its held-out scores count
    every EMO-DB clip once, each scored by the fold that held its speaker out."""
    card = EmotionClassifier("emodb").card
    source = card["source"]
    assert source["corpora"]["emodb"] == 408
    assert {f"emodb/{s}" for s in SPEAKERS} <= set(source["speakers"])
    assert card["labels"] == sorted(COUNTS)
    assert card["features"]["cmvn"] is False
    cv = card["metrics"]["cross_validation"]
    german = cv["per_corpus"]["emodb"]
    assert german["n"] == sum(map(sum, german["confusion"])) == 408
    assert set(german["recall"]) == set(COUNTS)
    assert cv["n"] == sum(c["n"] for c in cv["per_corpus"].values())
    this_file = card["metrics"]["cross_validation_this_file"]
    assert set(this_file) >= {"uar", "wa", "f1", "protocol", "per_corpus"}
    assert set(this_file["per_corpus"]) == {"crema-d", "emodb"}


def test_classify_a_speaker_folder_in_json(emodb_full, tmp_path):
    """A batch of real files through the CLI: one result per file, every label known."""
    files = sorted((emodb_full / "wav").glob("03*.wav"))
    res = CliRunner().invoke(main, ["classify", "-f", "json", *map(str, files)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data) == len(files) == SPEAKERS["03"]
    assert {d["label"] for d in data} <= set(COUNTS)


CREMA_COUNTS = {"anger": 1271, "disgust": 1271, "fear": 1271, "happiness": 1271, "neutral": 1087,
                "sadness": 1271}


def test_crema_d_data_info(crema_full):
    res = CliRunner().invoke(main, ["data", "info", "--no-durations", str(crema_full)])
    assert res.exit_code == 0, res.output
    assert "files    7442   classes 6   speakers 91   F 43   M 48" in res.output
    for label, n in CREMA_COUNTS.items():
        assert f"  {label:<12} {n:>6}" in res.output


def test_crema_d_labels_from_voice_votes(crema_full):
    votes = SHARED_CREMA_D / "summaryTable.csv"
    if not votes.is_file():
        votes = None   # then the votes must lie in or beside the audio folder
    agreed = load_corpus(crema_full, label_source="agreed", votes=votes)
    assert agreed.name == "crema-d-agreed" and len(agreed.items) == 3563
    voice = load_corpus(crema_full, label_source="voice", votes=votes)
    assert len(voice.items) == 6797 and voice.counts()["label"]["neutral"] == 3896

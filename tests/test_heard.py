"""Scores that say what they are: which speakers a model heard in training (its card), and
`evaluate` marking them in the table, the JSON and the per-speaker table. No TensorFlow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sernet_edge import heard
from sernet_edge.card import read_card
from sernet_edge.cli import main
from sernet_edge.corpora import Corpus, Item, load_corpus
from sernet_edge.runtime import bundled_model_path, bundled_models

CREMA_D = {str(a) for a in range(1001, 1092)}
EMODB_HEARD = {"03", "08", "09", "10", "11", "12", "13", "14"}


def evaluate(*args):
    res = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_every_bundled_card_says_it_heard_emodb_03_08_to_14_and_all_of_crema_d(name):
    """Derived from `source.speakers` of the shipped cards, which stay byte-identical:
    EMO-DB's 15 and 16 were kept out of every study, so no bundled model heard them."""
    card = read_card(bundled_models()[name])
    assert "heard" not in card["source"]          # older cards: derived, not stored
    assert heard.trained_on(card) == {"crema-d": CREMA_D, "emodb": EMODB_HEARD}


def test_file_names_of_a_known_corpus_identify_its_speaker_in_any_layout():
    assert heard.identify("mine/angry/03a01Wa.wav", "mine", "unknown") == ("emodb", "03")
    assert heard.identify("x/1001_DFA_ANG_XX.wav", "crema-d-agreed", "1001") == ("crema-d", "1001")
    assert heard.identify("a/b/rec1.wav", "mine", "alice") == ("mine", "alice")
    assert heard.identify("a/rec1.wav", "crema-d", "crema-d/1002") == ("crema-d", "1002")
    assert heard.canonical("iemocap-improvised") == "iemocap"
    assert heard.canonical("my-voices") == "my-voices"


def test_a_card_with_heard_and_one_without_speakers():
    assert heard.trained_on({"source": {"heard": {"crema-d-agreed": ["1001"]}}}) == {"crema-d": {"1001"}}
    assert heard.trained_on({"source": {"corpus": "bundled clips"}}) is None
    single = {"source": {"corpus": "emodb", "corpora": {"emodb": 7}, "speakers": ["03", "08"]}}
    assert heard.trained_on(single) == {"emodb": {"03", "08"}}


def test_an_adapted_card_adds_the_bundled_start_it_names():
    """A card written before `source.heard` existed, of a run started from multi: multi's
    speakers come from the bundled model whose weights its init_from names."""
    multi = read_card(bundled_model_path("light-sernet-multi-3s-float16.tflite"))
    card = {"source": {"corpus": "mine", "corpora": {"mine": 3}, "speakers": ["alice"]},
            "training": {"init_from": {"bundled": "multi", "weights_sha256": multi["weights_sha256"]}}}
    assert heard.trained_on(card) == {"mine": {"alice"}, "crema-d": CREMA_D, "emodb": EMODB_HEARD}


def test_for_card_records_the_corpus_and_the_start():
    corpus = Corpus("mine", Path("mine"), ["anger", "sadness"], [
        Item(Path("mine/angry/03a01Wa.wav"), "anger", "unknown", "mine"),
        Item(Path("mine/sad/rec.wav"), "sadness", "unknown", "mine")])
    assert heard.for_card(corpus) == {"emodb": ["03"], "mine": ["unknown"]}
    start = read_card(bundled_model_path())
    got = heard.for_card(corpus, start)
    assert got["emodb"] == sorted(EMODB_HEARD) and got["mine"] == ["unknown"]
    assert len(got["crema-d"]) == 91


def test_speaker_list_joins_runs():
    assert heard.speaker_list(["03", "08", "09", "10", "11", "12", "13", "14"]) == "03, 08-14"
    assert heard.speaker_list(["03", "04", "09"]) == "03, 04, 09"
    assert heard.speaker_list([str(a) for a in range(1001, 1092)]) == "1001-1091"


@pytest.fixture
def emodb_with_unheard(tmp_path, clips) -> Path:
    """The seven bundled clips (speakers the bundled models heard) and three copies named as
    speakers 15 and 16, whom no bundled model heard."""
    root = tmp_path / "emodb" / "wav"
    root.mkdir(parents=True)
    for p in clips:
        shutil.copy(p, root / p.name)
    src = {p.name: p for p in clips}
    shutil.copy(src["03a01Wa.wav"], root / "15a01Wa.wav")
    shutil.copy(src["13a05Tc.wav"], root / "16a05Tc.wav")
    shutil.copy(src["14a01Na.wav"], root / "16a01Na.wav")
    return root.parent


def test_evaluate_marks_heard_and_never_heard_everywhere(emodb_with_unheard, tmp_path):
    out = evaluate("multi", emodb_with_unheard, "-o", tmp_path / "out")
    report = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    (c,) = report["corpora"]
    assert report["model"]["heard_in_training"]["emodb"] == sorted(EMODB_HEARD)
    by_file = {x["file"]: x["heard"] for x in c["clips"]}
    assert by_file["wav/15a01Wa.wav"] is False and by_file["wav/03a01Wa.wav"] is True
    assert c["heard_in_training"]["n"] == 6 and c["never_heard"]["n"] == 3   # boredom left out
    assert c["heard_in_training"]["note"] == heard.NOTE
    assert c["never_heard"]["speakers"] == ["15", "16"]
    assert c["speakers"]["15"]["heard"] is False and c["speakers"]["03"]["heard"] is True
    # the table: the corpus row marked, then a row for each part
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("emodb "))
    assert lines[row].endswith("* 6 of 9 clips heard")
    assert lines[row + 1].split()[:4] == ["heard", "in", "training", "6"] and lines[row + 1].endswith("*")
    assert lines[row + 2].split()[:3] == ["never", "heard", "3"]
    assert f"* {heard.NOTE}" in out and "the 'never heard' row is the fair estimate" in out
    # the per-speaker table puts them apart
    per_speaker = out[out.index("UAR per speaker"):]
    heard_part, never = per_speaker.split("never heard")
    assert "03 " in heard_part and "15 " not in heard_part and "15 " in never and "16 " in never
    assert (tmp_path / "out" / "evaluate.txt").read_text() == out


def test_a_folder_of_heard_emodb_clips_is_marked_heard(tmp_path, clips):
    """The issue's folder of speakers 03 and 08: a folder per label, speaker unknown to the
    layout, yet its file names say whose clips they are."""
    folders = {"03a01Wa.wav": "angry", "08a02Ab.wav": "fear"}
    for p in clips:
        if p.name in folders:
            (tmp_path / "mine" / folders[p.name]).mkdir(parents=True)
            shutil.copy(p, tmp_path / "mine" / folders[p.name] / p.name)
    out = evaluate("multi", tmp_path / "mine")
    row = next(line for line in out.splitlines() if line.startswith("mine "))
    assert row.endswith("  *") and "  never heard" not in out
    assert "score it on speakers it never heard" in out


def test_no_marks_where_the_card_does_not_say(tmp_path, clips, monkeypatch):
    from sernet_edge import runtime
    real = runtime.read_card

    def without_speakers(path, data=None):
        card = real(path, data)
        card["source"] = {"corpus": "crema-d+emodb"}
        return card
    monkeypatch.setattr(runtime, "read_card", without_speakers)
    root = tmp_path / "emodb" / "wav"
    root.mkdir(parents=True)
    shutil.copy(clips[0], root / clips[0].name)
    out = evaluate("multi", root.parent, "-o", tmp_path / "out")
    assert "*" not in out and "does not say which speakers it was trained on" in out
    c = json.loads((tmp_path / "out" / "evaluate.json").read_text())["corpora"][0]
    assert "heard" not in c["clips"][0] and "heard_in_training" not in c


def test_load_corpus_speakers_match_what_the_card_calls_them(emodb_with_unheard):
    corpus = load_corpus(emodb_with_unheard)
    heard_by_multi = heard.trained_on(read_card(bundled_model_path()))
    flags = {it.speaker: heard.is_heard(heard_by_multi, it.path, corpus.name, it.speaker)
             for it in corpus.items}
    assert flags == {"03": True, "08": True, "09": True, "11": True, "13": True, "14": True,
                     "15": False, "16": False}


def test_convert_fills_in_heard_for_an_older_keras_card():
    from sernet_edge.train.convert import with_heard
    multi = read_card(bundled_model_path("light-sernet-multi-3s-float16.tflite"))
    old = {"source": {"corpus": "mine", "corpora": {"mine": 2}, "speakers": ["alice"]},
           "training": {"init_from": {"bundled": "multi", "weights_sha256": multi["weights_sha256"]}}}
    source = with_heard(old)
    assert source["heard"]["mine"] == ["alice"] and source["heard"]["emodb"] == sorted(EMODB_HEARD)
    assert with_heard({"source": {"heard": {"x": ["1"]}}}) == {"heard": {"x": ["1"]}}
    assert with_heard({"source": {"corpus": "bundled clips"}}) == {"corpus": "bundled clips"}

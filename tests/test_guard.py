"""A guarded fine-tune: `train` warns for classes with too few clips and classes the start
lacks, scores the start beside the adapted model on held-out speakers and says which is
better, or how to check when none was held out. The unit tests need no TensorFlow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.corpora import Corpus, Item
from sernet_edge.train import guard

SIX = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]


def corpus(counts: dict[str, int]) -> Corpus:
    items = [Item(Path(f"{lab}/{i}.wav"), lab, "me", "mine") for lab, n in counts.items() for i in range(n)]
    return Corpus("mine", Path("mine"), sorted(counts), items)


def test_the_threshold_is_the_learning_curves_smallest_adaptation():
    """experiments/adapt-to-new-speakers: one speaker's 30-61 clips over six classes."""
    assert guard.MIN_CLIPS == 5 and 30 / 6 == guard.MIN_CLIPS
    assert "experiments/adapt-to-new-speakers" in guard.__doc__


def test_warns_for_few_clips_and_new_classes():
    c = corpus({"anger": 12, "boredom": 9, "disgust": 1, "sadness": 4})
    few, new = guard.class_warnings(c, "multi", SIX)
    assert few.startswith("few clips of disgust (1 clip), sadness (4 clips): under 5 a class")
    assert "experiments/adapt-to-new-speakers/" in few
    assert new.startswith("multi has no class boredom (it has anger, disgust, fear")
    assert guard.class_warnings(corpus({"anger": 5, "sadness": 5}), "multi", SIX) == []
    # without --init only the few clips are said
    assert len(guard.class_warnings(c)) == 1


def fold(y, adapted, start, speakers):
    return {"test_speakers": speakers,
            "versus_start": {"classes": ["anger", "sadness"], "n": len(y), "y_true": y,
                             "adapted": adapted, "start": start}}


def test_pooled_says_which_model_is_better_and_which_classes_fell():
    labels = ["anger", "boredom", "sadness"]          # boredom: new, the start lacks it
    # anger 0, sadness 2; the adapted model answers boredom (1) for two sadness clips
    results = [fold([0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 2, 2], ["03"]),
               fold([0, 2], [0, 2], [0, 0], ["08"])]
    v = guard.pooled(results, labels, "multi")
    assert v["n"] == 6 and v["speakers"] == ["03", "08"]
    assert v["adapted_scores"]["recall"] == {"anger": 1.0, "sadness": pytest.approx(1 / 3)}
    assert v["start_scores"]["recall"] == {"anger": 1.0, "sadness": pytest.approx(2 / 3)}
    assert v["better"] == "start" and v["uar_difference"] == pytest.approx(-1 / 6)
    assert set(v["recall_fell"]) == {"sadness"}
    lines = guard.summary_lines({"versus_start": v}, "multi")
    assert lines[0] == "versus multi on the 2 held-out speakers (6 clips of anger, sadness):"
    assert lines[1] == ("  adapted UAR 66.67, multi 83.33: multi is better by 16.67 points: "
                        "the adaptation made them worse")
    assert lines[2] == "  recall fell for sadness 67 -> 33"
    assert guard.pooled([{"versus_start": None}], labels, "multi") is None


def test_no_held_out_speaker_says_how_to_check():
    (line,) = guard.summary_lines({}, "multi")
    assert "no speaker held out" in line and "sernet-edge evaluate multi" in line
    assert guard.summary_lines({}, "") == []


# ---- with TensorFlow: a fine-tune from multi on the bundled clips ----

@pytest.fixture
def two_speakers(tmp_path, clips):
    """The bundled clips as a folder per label; speakers from the file names (03, 08, 09, 11,
    13, 14), one clip a class but anger, and boredom, which multi lacks."""
    names = {"W": "angry", "L": "bored", "E": "disgust", "A": "fear", "F": "happy", "N": "neutral",
             "T": "sad"}
    root = tmp_path / "mine"
    for p in clips:
        (root / names[p.stem[5]]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, root / names[p.stem[5]] / p.name)
    return root


def test_finetune_warns_compares_with_the_start_and_records_what_it_heard(two_speakers, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs the [train] extra")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", str(two_speakers), "--init", "multi",
                                    "--init-shared-classes", "--speaker-pattern", r"^(\d\d)",
                                    "-o", str(out), "--folds", "0", "--epochs", "1",
                                    "--batch-size", "4", "--final-epochs", "1"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "warning: few clips of anger (1 clip), boredom (1 clip)" in res.stderr
    assert "warning: multi has no class boredom" in res.stderr
    report = json.loads((out / "report.json").read_text())
    v = report["versus_start"]
    assert v["speakers"] == ["03"] and v["n"] == 1 and v["classes"] == SIX
    assert v["start_heard_clips"] == 1           # multi heard speaker 03: its score is optimistic
    assert "versus multi on the 1 held-out speaker (1 clip of anger" in res.stdout
    assert "multi heard these speakers in training (1 of the 1 clips)" in res.stdout
    # the card: what this model heard, multi's speakers included
    card = json.loads((out / "final" / "card.json").read_text())
    heard = card["source"]["heard"]
    assert heard["emodb"] == ["03", "08", "09", "10", "11", "12", "13", "14"]
    assert len(heard["crema-d"]) == 91


def test_finetune_on_one_speaker_says_how_to_check(two_speakers, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs the [train] extra")
    res = CliRunner().invoke(main, ["train", str(two_speakers), "--init", "multi", "-o",
                                    str(tmp_path / "run"), "--folds", "none", "--epochs", "1",
                                    "--batch-size", "4"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "final model: 1 speaker (" in res.stdout and "all 1 speakers" not in res.stdout
    assert "no speaker held out, so the adapted model is not compared with multi" in res.stdout

"""Bundled models by short name (`-m emodb`) as well as by path."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.errors import ModelError
from sernet_edge.runtime import BUNDLED, EmotionClassifier, bundled_models, resolve_model


def test_short_names_resolve_to_the_bundled_files():
    installed = bundled_models()
    assert {"emodb", "emodb-float16", "multi", "multi-float16"} <= set(installed)
    for short, path in installed.items():
        assert path.name == BUNDLED[short] and resolve_model(short) == path


def test_a_path_wins_over_a_name(tmp_path, monkeypatch):
    local = tmp_path / "emodb"
    local.write_bytes(resolve_model("emodb").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert resolve_model("emodb") == local.relative_to(tmp_path)


def test_unknown_name_lists_the_bundled_ones():
    with pytest.raises(ModelError, match=r"nosuch: no such model file or bundled model \(bundled: emodb"):
        resolve_model("nosuch")
    with pytest.raises(ModelError, match="no such model file$"):
        resolve_model("missing/model.tflite")


def test_classify_by_short_name(clips):
    by_name = EmotionClassifier("emodb-float16").classify_file(clips[0])
    by_path = EmotionClassifier(str(resolve_model("emodb-float16"))).classify_file(clips[0])
    assert by_name.probabilities == by_path.probabilities
    res = CliRunner().invoke(main, ["classify", "-m", "emodb", "-f", "json", str(clips[0])])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["classify", "-m", "nosuch", str(clips[0])])
    assert res.exit_code == 2 and "bundled: emodb" in res.output


def test_default_is_the_multi_corpus_model(clips):
    clf = EmotionClassifier()
    assert clf.path.name == "light-sernet-multi-3s-int8.tflite" and clf.card["precision"] == "int8"
    assert clf.labels == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    source = clf.card["source"]
    assert source["corpora"] == {"crema-d": 7442, "emodb": 350} and len(source["speakers"]) == 99
    assert "Open Database License" in source["attribution"]["crema-d"]
    assert clf.card["features"]["cmvn"] is True
    # scores of the same recipe on held-out speakers: every clip of the scored folds once
    cv, mine = clf.card["metrics"]["cross_validation"], clf.card["metrics"]["cross_validation_this_file"]
    assert cv["n"] == sum(c["n"] for c in cv["per_corpus"].values())
    assert cv["uar_over_folds"]["n"] >= 3 and 0 < mine["n"] <= cv["n"]
    # EMO-DB speakers were in its training set: it should know their bundled clips (six of
    # the seven clips are of classes it has; boredom is not one of them)
    from sernet_edge.corpora import EMODB_EMOTIONS
    known = [p for p in clips if EMODB_EMOTIONS[p.name[5]] in clf.labels]
    right = sum(clf.classify_file(p).label == EMODB_EMOTIONS[p.name[5]] for p in known)
    assert len(known) == 6 and right >= 5

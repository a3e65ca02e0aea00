"""`sernet-edge evaluate`: the bundled model scored on small corpora built from the bundled
clips. Exact counts, scores equal to what classify_file gives by hand, what is left out and
said so, bad input as one line and exit code 2, JSON and PNG, and no TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.cli.evaluate import spread
from sernet_edge.runtime import resolve_model
from sernet_edge.corpora import load_corpus
from sernet_edge.metrics import scores
from sernet_edge.runtime import EmotionClassifier, bundled_model_path

MODEL = bundled_model_path("light-sernet-emodb-3s-int8.tflite")
# A bundled clip -> its RAVDESS emotion code (boredom has none).
RAVDESS_CODE = {"03a01Wa.wav": "05", "08a02Ab.wav": "06", "09b03Fd.wav": "03", "11b01Eb.wav": "07",
                "13a05Tc.wav": "04", "14a01Na.wav": "01"}


def run(*args):
    """(exit code, stdout, stderr) of `evaluate`; stderr without the note an install without
    matplotlib gets for -o (its own test checks that note)."""
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    err = "".join(line for line in result.stderr.splitlines(keepends=True)
                  if not line.startswith(PNG_NOTE))
    return result.exit_code, result.stdout, err


PNG_NOTE = "confusion PNGs not written"


def assert_one_line_error(code, out, err, *needles):
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def clf():
    return EmotionClassifier(MODEL)


@pytest.fixture
def emodb(tmp_path, clips) -> Path:
    """The seven clips under their names, plus copies under other names: 11 clips, two of
    them with a label the recording does not have (so the model gets them wrong)."""
    root = tmp_path / "emodb" / "wav"
    root.mkdir(parents=True)
    for p in clips:
        shutil.copy(p, root / p.name)
    src = {p.name: p for p in clips}
    shutil.copy(src["03a01Wa.wav"], root / "03a02Wb.wav")   # anger, right
    shutil.copy(src["08a02Ab.wav"], root / "08a03Na.wav")   # fear labelled neutral
    shutil.copy(src["13a05Tc.wav"], root / "13a06Ta.wav")   # sadness, right
    shutil.copy(src["11b01Lb.wav"], root / "11b02Wa.wav")   # boredom labelled anger
    return root.parent


@pytest.fixture
def ravdess(tmp_path, clips) -> Path:
    """Six clips under RAVDESS names, and three more named calm (2) and surprise (1)."""
    root = tmp_path / "ravdess" / "Actor_12"
    root.mkdir(parents=True)
    src = {p.name: p for p in clips}
    for name, code in RAVDESS_CODE.items():
        shutil.copy(src[name], root / f"03-01-{code}-01-01-01-12.wav")
    shutil.copy(src["14a01Na.wav"], root / "03-01-02-01-01-01-12.wav")
    shutil.copy(src["14a01Na.wav"], root / "03-01-02-02-01-01-12.wav")
    shutil.copy(src["03a01Wa.wav"], root / "03-01-08-01-01-01-12.wav")
    return root.parent


def by_hand(clf, root):
    corpus = load_corpus(root)
    items = sorted((it for it in corpus.items if it.label in clf.labels), key=lambda it: str(it.path))
    results = [clf.classify_file(it.path) for it in items]
    y_true = [clf.labels.index(it.label) for it in items]
    y_pred = [clf.labels.index(r.label) for r in results]
    return items, results, scores(y_true, y_pred, clf.labels)


def table_row(out: str, name: str) -> list[str]:
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == [name]]
    assert len(rows) == 1, out
    return rows[0]


# ---- (a) an EMO-DB tree: exact counts, scores as computed by hand ----

def test_emodb_scores_equal_classify_file_by_hand(emodb, clf, tmp_path):
    code, out, err = run(MODEL, emodb, "-o", tmp_path / "out")
    assert code == 0, err
    assert err == ""
    report = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    (c,) = report["corpora"]
    assert c["name"] == "emodb" and c["root"] == str(emodb) and c["n"] == 11 == c["available"]
    assert c["counts"] == {"anger": 3, "boredom": 1, "disgust": 1, "fear": 1, "happiness": 1,
                           "neutral": 2, "sadness": 2}
    assert c["left_out"] == {"not_in_model": {}, "not_in_labels": {}, "unreadable": 0}
    assert report["pooled"] is None
    assert report["model"]["name"] == "light-sernet-emodb-3s-int8"
    assert report["model"]["labels"] == clf.labels

    items, results, expected = by_hand(clf, emodb)
    assert c["scores"] == expected
    assert [x["file"] for x in c["clips"]] == [f"wav/{it.path.name}" for it in items]
    assert [x["predicted"] for x in c["clips"]] == [r.label for r in results]
    assert [x["true"] for x in c["clips"]] == [it.label for it in items]
    assert [x["confidence"] for x in c["clips"]] == pytest.approx([r.confidence for r in results],
                                                                   abs=1e-6)
    # the two relabelled copies are wrong, the rest right (these clips were trained on)
    wrong = {x["file"] for x in c["clips"] if x["true"] != x["predicted"]}
    assert wrong == {"wav/08a03Na.wav", "wav/11b02Wa.wav"}
    assert expected["wa"] == pytest.approx(9 / 11)
    # UAR: anger 2/3, neutral 1/2, the other five 1
    assert expected["uar"] == pytest.approx((2 / 3 + 1 / 2 + 5) / 7)
    # per speaker: 08 has fear (right) and neutral (wrong)
    # (its speakers were all in the model's training set: each is marked heard)
    assert c["speakers"]["08"] == {"n": 2, "uar": 0.5, "wa": 0.5, "heard": True}
    assert set(c["speakers"]) == {"03", "08", "09", "11", "13", "14"}
    assert c["heard_in_training"]["n"] == 11 and "never_heard" not in c

    row = table_row(out, "emodb")
    assert row[1] == "11"
    assert row[2:5] == [f"{100 * expected[k]:.2f}" for k in ("uar", "wa", "f1")]
    assert row[5:] == [f"{100 * expected['recall'][lab]:.2f}" for lab in clf.labels] + ["*"]
    assert (tmp_path / "out" / "evaluate.txt").read_text() == out


def test_same_input_same_answer(emodb, tmp_path):
    for name in ("a", "b"):
        code, _, err = run(MODEL, emodb, "-o", tmp_path / name)
        assert code == 0, err
    a, b = ((tmp_path / name / "evaluate.json").read_bytes() for name in ("a", "b"))
    assert a == b


def test_limit_spreads_evenly(emodb, tmp_path):
    code, out, err = run(MODEL, emodb, "--limit", 4, "-o", tmp_path / "out")
    assert code == 0, err
    c = json.loads((tmp_path / "out" / "evaluate.json").read_text())["corpora"][0]
    names = sorted(f"wav/{p.name}" for p in (emodb / "wav").glob("*.wav"))
    assert c["n"] == 4 and c["available"] == 11
    assert [x["file"] for x in c["clips"]] == [names[i] for i in (0, 2, 5, 8)]
    assert table_row(out, "emodb")[1] == "4"


def test_spread():
    assert spread(list(range(10)), 10) == list(range(10))
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread(list(range(7442)), 600)[-1] < 7442
    assert len(set(spread(list(range(601)), 600))) == 600


def test_labels_restricts_scoring(emodb, tmp_path):
    code, out, err = run(MODEL, emodb, "--labels", "angry,sad", "-o", tmp_path / "out")
    assert code == 0, err
    c = json.loads((tmp_path / "out" / "evaluate.json").read_text())["corpora"][0]
    assert c["counts"] == {"anger": 3, "sadness": 2}
    assert c["left_out"]["not_in_labels"] == {"boredom": 1, "disgust": 1, "fear": 1,
                                              "happiness": 1, "neutral": 2}
    assert err == ""   # the user asked for it: nothing to warn about
    # the model's columns stay: the boredom copy labelled anger is predicted boredom
    assert c["scores"]["confusion"][0][1] == 1
    assert set(c["scores"]["recall"]) == {"anger", "sadness"}
    assert c["scores"]["uar"] == pytest.approx((2 / 3 + 1) / 2)


# ---- (b) a RAVDESS tree: classes the model lacks are left out, and said so ----

def test_ravdess_leaves_out_calm_and_surprise(ravdess, clf, tmp_path):
    code, out, err = run("emodb", ravdess, "-o", tmp_path / "out")
    assert code == 0, err
    assert err == "ravdess: 3 clips of calm, surprise left out: the model has no such classes\n"
    c = json.loads((tmp_path / "out" / "evaluate.json").read_text())["corpora"][0]
    assert c["name"] == "ravdess" and c["n"] == 6
    assert c["left_out"]["not_in_model"] == {"calm": 2, "surprise": 1}
    assert c["counts"] == {"anger": 1, "disgust": 1, "fear": 1, "happiness": 1, "neutral": 1,
                           "sadness": 1}
    _, _, expected = by_hand(clf, ravdess)
    assert c["scores"] == expected
    row = table_row(out, "ravdess")
    assert row[clf.labels.index("boredom") + 5] == "-"    # a model class absent from the corpus


def test_two_corpora_are_also_pooled(emodb, ravdess, clf, tmp_path):
    code, out, err = run(MODEL, emodb, ravdess, "-o", tmp_path / "out")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    assert [c["name"] for c in report["corpora"]] == ["emodb", "ravdess"]
    pooled = report["pooled"]
    assert pooled["n"] == 17 and table_row(out, "pooled")[1] == "17"
    clips = [x for c in report["corpora"] for x in c["clips"]]
    y_true = [clf.labels.index(x["true"]) for x in clips]
    y_pred = [clf.labels.index(x["predicted"]) for x in clips]
    assert pooled["scores"] == scores(y_true, y_pred, clf.labels)
    assert "ravdess/12" in pooled["speakers"] and "emodb/03" in pooled["speakers"]
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    if pngs:
        assert pngs == ["confusion-emodb.png", "confusion-pooled.png", "confusion-ravdess.png"]


def test_unreadable_clip_is_counted_not_fatal(emodb, tmp_path):
    (emodb / "wav" / "15a01Wa.wav").write_bytes(b"RIFF not really audio")
    code, out, err = run(MODEL, emodb, "-o", tmp_path / "out")
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("1 clip could not be read: first: ")
    assert "15a01Wa.wav" in err
    c = json.loads((tmp_path / "out" / "evaluate.json").read_text())["corpora"][0]
    assert c["n"] == 11 and c["left_out"]["unreadable"] == 1
    assert c["failed"][0]["file"] == "wav/15a01Wa.wav"


# ---- (c) bad input: one line, exit code 2 ----

def test_folder_corpus_without_model_classes(tmp_path, clips):
    for label in ("calm", "surprised"):
        (tmp_path / "mine" / label).mkdir(parents=True)
        shutil.copy(clips[0], tmp_path / "mine" / label / "a.wav")
    assert_one_line_error(*run(MODEL, tmp_path / "mine"), "mine", "no clip has a class the model knows",
                          "calm, surprise")


def test_missing_model(emodb, tmp_path):
    assert_one_line_error(*run(tmp_path / "nope.tflite", emodb), "nope.tflite", "no such model file")
    assert_one_line_error(*run("nope", emodb), "nope", "bundled")


def test_unrecognised_corpus(tmp_path, clips):
    (tmp_path / "flat").mkdir()
    shutil.copy(clips[0], tmp_path / "flat" / "recording.wav")
    assert_one_line_error(*run(MODEL, tmp_path / "flat"), "layout not recognised")
    assert_one_line_error(*run(MODEL, tmp_path / "missing"), "no such folder")


def test_labels_the_model_lacks(emodb):
    assert_one_line_error(*run(MODEL, emodb, "--labels", "anger,calm"), "--labels", "'calm'")


def test_labels_absent_from_corpus(ravdess):
    assert_one_line_error(*run(MODEL, ravdess, "--labels", "boredom"), "--labels boredom")


def test_resolve_model():
    assert resolve_model(str(MODEL)) == MODEL
    assert resolve_model("emodb").name == "light-sernet-emodb-3s-int8.tflite"
    assert resolve_model("light-sernet-emodb-3s-float16").name == "light-sernet-emodb-3s-float16.tflite"
    assert resolve_model("light-sernet-emodb-3s-float16.tflite").stem.endswith("float16")
    from sernet_edge.errors import ModelError
    with pytest.raises(ModelError, match="no such model file or bundled model"):
        resolve_model("int9")


def test_evaluate_by_short_name(emodb):
    code, out, err = run("emodb-float16", emodb)
    assert code == 0, err
    assert "light-sernet-emodb-3s-float16.tflite" in out


# ---- (d) JSON and PNG ----

def test_json_and_png_written(emodb, tmp_path):
    pytest.importorskip("matplotlib", reason="confusion PNGs need matplotlib ([plot] extra)")
    out = tmp_path / "out"
    code, _, err = run(MODEL, emodb, "-o", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["confusion-emodb.png", "evaluate.json",
                                                      "evaluate.txt"]
    assert (out / "confusion-emodb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "evaluate.json").read_text())
    assert set(report) == {"command", "sernet_edge_version", "model", "options", "condition",
                           "corpora", "pooled"}
    assert report["condition"] is None                   # the recordings as they are
    assert set(report["corpora"][0]["clips"][0]) == {"file", "speaker", "true", "predicted",
                                                     "confidence", "speech_seconds", "snr_db",
                                                     "heard"}


def test_without_matplotlib_json_still_written(emodb, tmp_path, monkeypatch):
    from sernet_edge import plots

    def missing():
        raise ImportError("No module named 'matplotlib'", name="matplotlib")
    monkeypatch.setattr(plots, "_plt", missing)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["evaluate", str(MODEL), str(emodb), "-o", str(out)])
    code, err = result.exit_code, result.stderr
    assert code == 0
    assert err.count("\n") == 1 and "pip install '.[plot]'" in err
    assert sorted(p.name for p in out.iterdir()) == ["evaluate.json", "evaluate.txt"]


def test_train_plots_still_draw(tmp_path):
    pytest.importorskip("matplotlib")
    from sernet_edge.train import plots as train_plots   # no TensorFlow imported by this module
    report = {"overall": {"confusion": [[2, 1], [0, 3]]}, "labels": ["a", "b"], "corpus": "x",
              "recipe": {}}
    history = [{"epoch": 1, "loss": 1.0, "val_uar": 0.5}, {"epoch": 2, "loss": 0.5, "val_uar": 0.7}]
    train_plots.write_all(report, [{"fold": "f1", "history": history}], tmp_path)
    assert (tmp_path / "confusion.png").is_file() and (tmp_path / "curves.png").is_file()


# ---- (e) python -m sernet_edge evaluate, without TensorFlow ----

def test_module_evaluate_never_imports_tensorflow(emodb, tmp_path):
    code = ("import runpy, sys\n"
            "sys.argv = ['sernet_edge', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('sernet_edge', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "bad = sorted(m for m in sys.modules\n"
            "             if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code, "evaluate", "emodb", str(emodb), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert table_row(done.stdout, "emodb")[1] == "11"
    assert (tmp_path / "out" / "evaluate.json").is_file()

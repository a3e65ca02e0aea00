"""Runtime: agreement with Keras, windows over long audio, output formats, no TensorFlow."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from sernet_edge.audio import load_audio
from sernet_edge.cli import main
from sernet_edge.errors import ModelError
from sernet_edge.runtime import EmotionClassifier, bundled_model_path, iter_windows

REPO = Path(__file__).resolve().parents[1]


# ---- windows ----

def _windows(n, window, hop, chunk=None):
    x = np.arange(n, dtype=np.float32)
    chunks = [x] if chunk is None else [x[i:i + chunk] for i in range(0, n, chunk)]
    return [(s, w.copy()) for s, w in iter_windows(chunks, window, hop)]


@pytest.mark.parametrize("n,starts", [
    (5, [0]),                 # shorter than a window: one short window
    (10, [0]),                # exactly one window
    (14, [0, 4]),             # the hop grid covers it exactly
    (16, [0, 4, 6]),          # a tail window aligned to the end
    (30, [0, 4, 8, 12, 16, 20]),
])
def test_window_starts(n, starts):
    got = _windows(n, 10, 4)
    assert [s for s, _ in got] == starts
    for s, w in got:
        assert np.array_equal(w, np.arange(s, min(s + 10, n), dtype=np.float32))


@pytest.mark.parametrize("chunk", [1, 3, 7, 10, 11, 1000])
def test_windows_do_not_depend_on_chunking(chunk):
    whole = _windows(53, 10, 4)
    parts = _windows(53, 10, 4, chunk)
    assert [s for s, _ in parts] == [s for s, _ in whole]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(whole, parts))


# ---- agreement with Keras on real clips ----

def test_float32_matches_keras(tiny_models):
    clf = EmotionClassifier(tiny_models["float32"])
    keras_p = np.asarray(tiny_models["keras"](tiny_models["X"], training=False))
    for x, want in zip(tiny_models["X"], keras_p):
        assert np.allclose(clf.predict_features(x[..., 0]), want, atol=1e-5)


def test_int8_argmax_matches_keras(tiny_models):
    clf = EmotionClassifier(tiny_models["int8"])
    assert clf.card["precision"] == "int8"
    keras_p = np.asarray(tiny_models["keras"](tiny_models["X"], training=False))
    got = [clf.predict_features(x[..., 0]).argmax() for x in tiny_models["X"]]
    assert got == list(keras_p.argmax(axis=1))


def test_classify_file_is_the_mean_of_its_windows(tiny_models, clips):
    clf = EmotionClassifier(tiny_models["float32"], hop_seconds=0.5)
    longest = max(clips, key=lambda p: sf.info(str(p)).frames)      # 4.45 s: several windows
    r = clf.classify_file(longest)
    x = load_audio(longest)
    n, hop = clf.features.num_samples, 8000
    starts = list(range(0, len(x) - n + 1, hop))
    if starts[-1] + n < len(x):
        starts.append(len(x) - n)
    assert [round(w.start * 16000) for w in r.windows] == starts
    probs = [clf.predict_window(x[s:s + n]) for s in starts]
    mean = np.mean(probs, axis=0)
    assert np.allclose([r.probabilities[lab] for lab in clf.labels], mean, atol=1e-6)
    assert r.label == clf.labels[int(mean.argmax())]
    assert r.duration == pytest.approx(len(x) / 16000, abs=1e-3)


def test_short_clip_is_padded_like_training(tiny_models, clips):
    from sernet_edge.features import extract
    clf = EmotionClassifier(tiny_models["float32"], vad="off")   # every sample, as training
    x = load_audio(clips[0])
    assert len(x) < clf.features.num_samples
    r = clf.classify_array(x)
    assert len(r.windows) == 1
    direct = clf.predict_features(extract(x, clf.features))
    assert np.allclose([r.probabilities[lab] for lab in clf.labels], direct, atol=1e-7)


def test_classify_array_resamples(tiny_models, clips):
    import soxr
    clf = EmotionClassifier(tiny_models["float32"])
    x = load_audio(clips[2])
    at_44k = soxr.resample(x, 16000, 44100)
    stereo = np.stack([at_44k, at_44k], axis=1)
    a, b = clf.classify_array(x), clf.classify_array(stereo, 44100)
    assert a.label == b.label
    assert abs(a.confidence - b.confidence) < 0.05


# ---- CLI formats and batches ----

def test_json_and_csv_shapes(tiny_models, clips):
    runner = CliRunner()
    res = runner.invoke(main, ["classify", "-m", str(tiny_models["float32"]), "-f", "json",
                               *map(str, clips[:3])])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [Path(d["file"]).name for d in data] == [p.name for p in clips[:3]]
    for d in data:
        assert set(d) == {"file", "label", "confidence", "probabilities", "duration", "windows",
                          "speech_seconds", "snr_db", "warnings"}
        assert list(d["probabilities"]) == tiny_models["labels"]
        assert abs(sum(d["probabilities"].values()) - 1) < 1e-4
    res = runner.invoke(main, ["classify", "-m", str(tiny_models["float32"]), "-f", "csv",
                               "--windows", "--hop", "0.5", str(clips[5])])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    labels = tiny_models["labels"]
    assert list(rows[0]) == ["file", "row", "start", "end", "speech_seconds", "snr_db", "label", "confidence",
                             *[f"p_{lab}" for lab in labels], "warnings", "error"]
    assert len(rows) == 1 + len(json.loads(runner.invoke(
        main, ["classify", "-m", str(tiny_models["float32"]), "-f", "json", "--hop", "0.5",
               str(clips[5])]).stdout)[0]["windows"])


def test_one_bad_file_does_not_stop_the_batch(tiny_models, clips, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    res = CliRunner().invoke(main, ["classify", "-m", str(tiny_models["float32"]), "-f", "json",
                                    str(clips[0]), str(bad), str(tmp_path / "missing.wav"),
                                    str(clips[1])])
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert [("error" in d) for d in data] == [False, True, True, False]
    assert "not a readable audio file" in data[1]["error"]
    assert "no such file" in data[2]["error"]


def test_folder_and_glob_inputs(tiny_models, clips):
    folder = str(clips[0].parent)
    res = CliRunner().invoke(main, ["classify", "-m", str(tiny_models["float32"]), "-f", "json",
                                    folder, folder + "/0*.wav"])
    assert res.exit_code == 0, res.output
    names = [Path(d["file"]).name for d in json.loads(res.stdout)]
    assert names == [p.name for p in clips]     # the glob names three of them again: once each


# ---- models that must be refused ----

def _with_card(tmp_path, source: Path, edit) -> Path:
    from sernet_edge.card import read_card
    card = read_card(source)
    edit(card)
    data = source.read_bytes()
    # strip the embedded card by using the sidecar path with a fresh unembedded copy
    from sernet_edge.train.convert import add_card
    out = tmp_path / "edited.tflite"
    out.write_bytes(add_card(data, card))
    return out


def test_card_with_wrong_labels_is_refused(tiny_models, tmp_path):
    bad = _with_card(tmp_path, tiny_models["float32"], lambda c: c["labels"].pop())
    with pytest.raises(ModelError, match="outputs but the card lists"):
        EmotionClassifier(bad)


def test_card_with_wrong_input_length_is_refused(tiny_models, tmp_path):
    bad = _with_card(tmp_path, tiny_models["float32"], lambda c: c["features"].update(seconds=7.0))
    with pytest.raises(ModelError, match="does not match the card's features"):
        EmotionClassifier(bad)


def test_changed_weights_are_refused(tiny_models, tmp_path):
    data = bytearray(tiny_models["int8"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "flipped.tflite"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        EmotionClassifier(bad)


def test_model_without_card_is_refused(tmp_path, tiny_models):
    pytest.importorskip("tensorflow")
    from sernet_edge.train.convert import convert_keras
    from sernet_edge.features import FeatureConfig
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(convert_keras(tiny_models["keras"], FeatureConfig(), "float32", None))
    with pytest.raises(ModelError, match="no model card"):
        EmotionClassifier(plain)


# ---- the device side never imports TensorFlow ----

def test_classify_never_imports_tensorflow(tiny_models, clips):
    code = (
        "import sys\n"
        "from sernet_edge.runtime import EmotionClassifier\n"
        "import sernet_edge.cli\n"
        f"r = EmotionClassifier({str(tiny_models['int8'])!r}).classify_file({str(clips[0])!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print(r.label, bad)\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "[]" in out.stdout


def test_cli_classify_subprocess_never_imports_tensorflow(tiny_models, clips):
    code = ("import sys\nfrom sernet_edge.cli import main\n"
            "try:\n    main([*sys.argv[1:]])\nexcept SystemExit:\n    pass\n"
            "assert not [m for m in sys.modules if m.startswith(('tensorflow', 'keras'))]\n")
    out = subprocess.run([sys.executable, "-c", code, "classify", "-m", str(tiny_models["int8"]),
                          str(clips[0])], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ---- the bundled model ----

def test_bundled_model_classifies_bundled_clips(clips):
    path = bundled_model_path()
    assert path.is_file(), f"bundled model missing: {path}"
    res = CliRunner().invoke(main, ["classify", "-m", "emodb", "-f", "json", *map(str, clips)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data) == 7
    clf = EmotionClassifier("emodb")
    assert clf.card["precision"] == "int8"
    # the clips were in its training set: it should know them
    from sernet_edge.corpora import EMODB_EMOTIONS
    right = sum(d["label"] == EMODB_EMOTIONS[Path(d["file"]).name[5]] for d in data)
    assert right >= 6, data

"""train --init NAME: a bundled model, rebuilt in Keras from its float16 file, starts a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.errors import ModelError, SernetError

tf = pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")

MULTI_FILE = "light-sernet-multi-3s-float16.tflite"
SIX = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
# EMO-DB's emotion letter (6th character of the file name) -> a folder name a user might pick
FOLDER_NAMES = {"W": "angry", "L": "bored", "E": "disgust", "A": "fear", "F": "happy",
                "N": "neutral", "T": "sad"}
BATCHNORMS = 8          # three body-I paths, four LFLBs, the final 1x1


@pytest.fixture
def own_voices(tmp_path, clips):
    """The seven bundled clips as a folder-per-label corpus of one (unknown) speaker."""
    root = tmp_path / "mine"
    for p in clips:
        folder = root / FOLDER_NAMES[p.stem[5]]
        folder.mkdir(parents=True)
        shutil.copy(p, folder / p.name)
    return root


def _card(name):
    from sernet_edge.card import read_card
    from sernet_edge.train import bundled
    return read_card(bundled.start_file(name))


def _float_file_outputs(path, X):
    """The float file's probabilities, one clip at a time, without a delegate (float32 math)."""
    from sernet_edge.bench import plain_interpreter
    interp = plain_interpreter(path.read_bytes(), path, X[:1].shape)
    out = []
    for x in X:
        interp.set_tensor(interp.get_input_details()[0]["index"], x[None])
        interp.invoke()
        out.append(interp.get_tensor(interp.get_output_details()[0]["index"])[0])
    return np.array(out)


@pytest.mark.parametrize("name,labels", [("multi", 6), ("emodb", 7)])
def test_rebuilt_model_answers_the_bundled_clips_as_its_float16_file(name, labels, clips):
    """Same weights (the float16 values), same function: the rebuilt Keras model and the float16
    .tflite agree on every class probability of the bundled clips to float32 rounding, far
    inside float16's (1e-3)."""
    from sernet_edge.audio import load_audio
    from sernet_edge.card import feature_config
    from sernet_edge.features import extract
    from sernet_edge.train import bundled
    model = bundled.rebuild(name)
    path = bundled.start_file(name)
    assert path.name.endswith("-float16.tflite")
    X = np.stack([extract(load_audio(c), feature_config(_card(name))) for c in clips])[..., None]
    expected = _float_file_outputs(path, X)
    got = np.asarray(model(X, training=False))
    assert got.shape == expected.shape == (7, labels)
    assert np.abs(got - expected).max() < 1e-5
    assert (got.argmax(1) == expected.argmax(1)).all()
    import keras
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == BATCHNORMS and not any(layer.trainable for layer in bns)
    for layer in bns:
        gamma, _, mean, var = layer.get_weights()
        assert (gamma == 1).all() and (mean == 0).all()
        np.testing.assert_allclose(var + layer.epsilon, 1.0, rtol=1e-7)


def test_front_end_and_width_come_from_the_card():
    from sernet_edge.train import bundled
    assert bundled.front_end("multi", {})["cmvn"] is True
    assert bundled.front_end("emodb", {})["cmvn"] is False
    assert bundled.front_end("multi", {"seconds": 2.0})["seconds"] == 2.0  # fully convolutional
    assert bundled.front_end("multi", {"cmvn": True, "n_mfcc": 40})["n_mfcc"] == 40
    with pytest.raises(SernetError, match="trained with cmvn True, not False"):
        bundled.front_end("multi", {"cmvn": False})
    with pytest.raises(SernetError, match="trained with n_mels 128, not 64"):
        bundled.front_end("emodb", {"n_mels": 64})
    assert bundled.width("multi", None) == 1.0 and bundled.width("multi", 1.0) == 1.0
    with pytest.raises(SernetError, match="width 1, not 0.5"):
        bundled.width("multi", 0.5)


def test_bundled_names_and_paths(tmp_path, monkeypatch):
    from sernet_edge.train import bundled
    assert bundled.start_file("multi").name == MULTI_FILE
    assert bundled.start_file("multi-float16").name == MULTI_FILE
    assert bundled.start_file("light-sernet-multi-3s-int8.tflite").name == MULTI_FILE
    assert bundled.start_file("emodb").name == "light-sernet-emodb-3s-float16.tflite"
    names = set(bundled.start_names())
    assert {"multi", "emodb"} <= names
    assert not names & {"multi-float16", "emodb-float16", "multi-micro"}
    with pytest.raises(SernetError, match="multi-micro: this bundled model is int8 only"):
        bundled.start_file("multi-micro")
    assert bundled.start_file("nosuch") is None and bundled.start_file("") is None
    path = bundled.start_file("multi")         # a float .tflite by path starts a run too
    assert bundled.start_file(str(path)) == path
    assert bundled.origin(str(path))["path"] == str(path) and "bundled" not in bundled.origin(str(path))
    with pytest.raises(SernetError, match="precision int8; training starts from a float16"):
        bundled.start_file(str(path.with_name("light-sernet-multi-3s-int8.tflite")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "multi").mkdir()       # a path the user has wins over a bundled name
    assert not bundled.is_bundled("multi") and bundled.origin("multi") is None


def test_a_float_file_whose_weights_are_not_its_cards_is_refused(tmp_path, monkeypatch):
    """The card's weights_sha256 vouches for the weights a run starts from."""
    from sernet_edge import runtime
    from sernet_edge.tflite_file import read_model
    from sernet_edge.train import bundled
    data = bytearray(bundled.start_file("multi").read_bytes())
    model = read_model(bytes(data))
    weights = max((b for i, b in enumerate(model["buffers"]) if i not in model["metadata_buffers"]),
                  key=len)
    at = bytes(data).find(weights) + len(weights) // 2
    data[at] ^= 0x01
    tampered = tmp_path / MULTI_FILE
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(runtime, "bundled_models", lambda: {"multi-float16": tampered})
    with pytest.raises(ModelError, match="not those its card names"):
        bundled.rebuild("multi-float16")


def test_classifier_copies_whole_only_for_the_same_classes():
    """Same classes in the same order: the whole bundled model, classifier included; the same
    number of other classes: a fresh classifier; the same classes in another order with
    --init-shared-classes: each class's weights moved to its place."""
    from sernet_edge.train import bundled
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import freeze_copied, init_weights
    source = bundled.rebuild("multi")
    x = np.random.default_rng(3).standard_normal((2, 184, 40, 1)).astype(np.float32)
    expected = np.asarray(source(x, training=False))
    every = sum(1 for layer in source.layers if layer.weights)

    model = build_model((184, 40, 1), 6)
    assert init_weights(model, "multi", classes=SIX) == (every, {})
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, atol=1e-6)
    # --freeze-init on a classifier copied whole: it still learns, nothing else does
    assert freeze_copied(model, {}) == every - 1
    assert [w.path for w in model.trainable_weights] == ["emotion/kernel", "emotion/bias"]

    other = ["calm", "angry", "joy", "grief", "awe", "rage"]
    model = build_model((184, 40, 1), 6)
    assert init_weights(model, "multi", classes=other) == (every - 1, {"emotion": ""})

    reordered = SIX[::-1]
    model = build_model((184, 40, 1), 6)
    assert init_weights(model, "multi", reordered, classes=reordered) == (every, {})
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected[:, ::-1], atol=1e-6)


def test_train_init_multi_on_a_folder_corpus(own_voices, tmp_path):
    """`train MY_CORPUS --init multi` on one speaker's folders: the run takes multi's front end,
    its classifier starts fresh (boredom is not one of multi's classes), the BatchNorm layers
    end as they started while the convolutions learn, and the card says where it started."""
    from sernet_edge.features import FeatureConfig
    from sernet_edge.train import bundled
    from sernet_edge.train.trainer import load_init_model
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", str(own_voices), "--init", "multi", "-o", str(out),
                                    "--folds", "none", "--epochs", "2", "--batch-size", "4"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "16 layers from multi; fresh: emotion" in res.output
    assert f"{BATCHNORMS} BatchNorm layers frozen" in res.output
    card = json.loads((out / "final" / "card.json").read_text())
    shipped = json.loads((bundled.start_file("multi").with_suffix(".json")).read_text())
    assert card["features"] == {**FeatureConfig().to_dict(), **shipped["features"]}
    assert card["labels"] == ["anger", "boredom", "disgust", "fear", "happiness", "neutral",
                              "sadness"]
    start = card["training"]["init_from"]
    assert (start["bundled"], start["file"], start["weights_sha256"]) == \
        ("multi", MULTI_FILE, shipped["weights_sha256"])
    assert json.loads((out / "settings.json").read_text())["init_from"] == start

    rebuilt, final = bundled.rebuild("multi"), load_init_model(out / "final" / "model.keras")
    for name in ("path1_bn", "lflb2_bn", "final_bn"):
        for a, b in zip(rebuilt.get_layer(name).get_weights(), final.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rebuilt.get_layer("lflb2_conv").get_weights()[0],
                              final.get_layer("lflb2_conv").get_weights()[0])

    settings = json.loads((out / "settings.json").read_text())
    settings["init_from"]["weights_sha256"] = "0" * 64       # a newer bundled multi since
    (out / "settings.json").write_text(json.dumps(settings))
    res = CliRunner().invoke(main, ["train", str(own_voices), "--init", "multi", "-o", str(out),
                                    "--folds", "none", "--epochs", "2", "--batch-size", "4"])
    assert res.exit_code == 2 and "other settings (init_from)" in res.output


@pytest.mark.parametrize("extra,message", [
    (["--init", "multi", "--no-cmvn"], "--init multi: the model was trained with cmvn True, not False"),
    (["--init", "emodb", "--cmvn"], "--init emodb: the model was trained with cmvn False, not True"),
    (["--init", "multi", "--width", "0.5"], "--init multi: the model has width 1, not 0.5"),
    (["--init", "multi-micro"], "--init multi-micro: this bundled model is int8 only"),
    (["--init", "nosuch"], "--init nosuch: no such model file, fold folder or bundled model"),
])
def test_train_init_refusals_are_one_line(own_voices, tmp_path, extra, message):
    res = CliRunner().invoke(main, ["train", str(own_voices), "-o", str(tmp_path / "run"),
                                    "--folds", "none", *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_finetune_recipe_starts_from_multi(tmp_path):
    from sernet_edge.train.recipe import Recipe
    settings = Recipe.from_file(Path(__file__).resolve().parents[1] / "recipes" / "finetune-multi.toml")
    recipe = Recipe(**{k: tuple(v) if k == "augment" else v for k, v in settings.items()})
    recipe.validate()
    assert recipe.init == "multi" and "features" not in settings

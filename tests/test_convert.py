"""The converter: a tiny Light-SERNet (1 s input, 3 classes) trained on a few real clips, exported
to every precision and checked with LiteRT, TFLite Micro, gcc and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert")

from click.testing import CliRunner  # noqa: E402

import sernet_edge  # noqa: E402
from sernet_edge.audio import SAMPLE_RATE, load_audio  # noqa: E402
from sernet_edge.card import METADATA_NAME, new_card, read_card  # noqa: E402
from sernet_edge.cli import main  # noqa: E402
from sernet_edge.corpora import load_corpus  # noqa: E402
from sernet_edge.errors import ModelError, SernetError  # noqa: E402
from sernet_edge.features import FeatureConfig  # noqa: E402
from sernet_edge.tflite_file import read_model, weights_sha256  # noqa: E402
from sernet_edge.train import convert as conv  # noqa: E402
from sernet_edge.train.dataset import load_features  # noqa: E402
from sernet_edge.train.model import build_model, with_input_frames  # noqa: E402

LABELS = ["anger", "neutral", "sadness"]
EMODB_CODES = {"W": "anger", "N": "neutral", "T": "sadness"}
SECONDS = 1.0
FRAMES = 59                      # (16000 - 1024 + 256) // 256
SEGMENTS_PER_LABEL = 4
EPOCHS = 8
ALL = ["float32", "float16", "dynamic-int8", "int8"]
INT8_OPS = {"CONV_2D", "AVERAGE_POOL_2D", "CONCATENATION", "MEAN", "FULLY_CONNECTED", "SOFTMAX"}
PACKAGE_CLIPS = Path(sernet_edge.__file__).parent / "clips"
SHARED_CLIPS = Path("/work/shared/data/emodb/wav")


# ---- fixtures: a corpus of real (or, failing that, synthetic) clips and a model trained on it ----

def _real_clips() -> dict[str, list[Path]]:
    for folder in (PACKAGE_CLIPS, SHARED_CLIPS):
        found = {lab: sorted(p for p in folder.glob(f"?????{code}?.wav"))
                 for code, lab in EMODB_CODES.items()} if folder.is_dir() else {}
        if found and all(found.values()):
            return found
    return {}


def _segments() -> dict[str, list[np.ndarray]]:
    """1 s pieces of real clips, hop 0.5 s; sine/noise stand-ins when no clips are available."""
    n, hop = SAMPLE_RATE, SAMPLE_RATE // 2
    real = _real_clips()
    if real:
        out = {}
        for label, paths in real.items():
            pieces = []
            for p in paths:
                x = load_audio(p)
                pieces += [x[o:o + n] for o in range(0, len(x) - n + 1, hop)]
            out[label] = pieces[:SEGMENTS_PER_LABEL]
        return out
    rng = np.random.default_rng(0)
    t = np.arange(n) / SAMPLE_RATE
    make = {"anger": lambda: np.sin(2 * np.pi * rng.uniform(900, 1100) * t),
            "neutral": lambda: np.sin(2 * np.pi * rng.uniform(180, 220) * t),
            "sadness": lambda: rng.standard_normal(n) * 0.3}
    return {lab: [(0.5 * f()).astype(np.float32) for _ in range(SEGMENTS_PER_LABEL)] for lab, f in make.items()}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    import soundfile as sf
    root = tmp_path_factory.mktemp("corpus")
    for label, pieces in _segments().items():
        (root / label).mkdir()
        for i, x in enumerate(pieces):
            sf.write(root / label / f"{label}{i:02d}.wav", x, SAMPLE_RATE, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_dir):
    """model.keras + card.json as the trainer writes them, and the features it saw."""
    cfg = FeatureConfig(seconds=SECONDS)
    corpus = load_corpus(corpus_dir, "folder")
    assert corpus.labels == LABELS
    X, y, _ = load_features(corpus, cfg, tmp_path_factory.mktemp("cache"))
    keras.utils.set_random_seed(0)
    model = build_model(cfg.input_shape, len(LABELS))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=EPOCHS, batch_size=8, verbose=0)
    _recalibrate_batchnorm(model, X)
    out = tmp_path_factory.mktemp("final")
    model.save(out / "model.keras")
    card = new_card(LABELS, cfg, "keras", source={"corpus": "tiny", "root": str(corpus_dir),
                                                   "items": len(y)},
                    metrics={"cross_validation": {"uar": 0.5}}, training={"final": {"epochs": EPOCHS}})
    (out / "card.json").write_text(json.dumps(card))
    return {"path": out / "model.keras", "model": model, "card": card, "X": X, "y": y, "cfg": cfg}


def _recalibrate_batchnorm(model, X):
    """A few epochs leave BatchNorm's moving averages far from the data; set them to the batch
    statistics so the inference model is as confident as the trained one."""
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    model(X, training=True)
    for layer in bns:
        layer.momentum = 0.99


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    paths = conv.export(trained["model"], trained["card"], out, ALL, None, trained["X"],
                        (trained["X"], trained["y"]), name="tiny", c_array=True)
    return {"dir": out, "paths": paths}


def _litert(path_or_bytes, X):
    """Probabilities from LiteRT, quantising by hand from the tensor details."""
    from ai_edge_litert.interpreter import Interpreter
    data = Path(path_or_bytes).read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    din, dout = it.get_input_details()[0], it.get_output_details()[0]
    probs = []
    for x in X:
        if din["dtype"] == np.int8:
            s, z = din["quantization"]
            x = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
        it.set_tensor(din["index"], x[None].astype(din["dtype"]))
        it.invoke()
        out = it.get_tensor(dout["index"])[0]
        if dout["dtype"] == np.int8:
            s, z = dout["quantization"]
            out = (out.astype(np.float32) - z) * s
        probs.append(out)
    return np.array(probs, np.float32).reshape(len(X), int(dout["shape"][-1])), din, dout


# ---- the files ----

def test_writes_every_precision_and_c_array(exported):
    names = sorted(p.name for p in exported["paths"])
    expected = sorted([f"tiny-1s-{p}.tflite" for p in ALL] + [f"tiny-1s-{p}.json" for p in ALL]
                      + ["tiny-1s-int8_model_data.c", "tiny-1s-int8_model_data.h"])
    assert names == expected
    assert sorted(p.name for p in exported["dir"].iterdir()) == expected  # no temporary files left


def test_embedded_card_matches_file_and_sidecar(exported, trained):
    for precision in ALL:
        path = exported["dir"] / f"tiny-1s-{precision}.tflite"
        data = path.read_bytes()
        card = read_card(path, data)
        assert read_model(data)["metadata"][METADATA_NAME]  # embedded, not only the sidecar
        assert card == json.loads(path.with_suffix(".json").read_text())
        assert card["precision"] == precision
        assert card["labels"] == LABELS
        assert card["features"] == trained["cfg"].to_dict()
        assert card["input"]["seconds"] == SECONDS and card["input"]["shape"] == [1, FRAMES, 40, 1]
        assert card["output"]["shape"] == [1, 3]
        assert card["file_bytes"] == len(data)
        assert card["weights_sha256"] == weights_sha256(read_model(data))
        assert card["source"]["root"] == trained["card"]["source"]["root"]
        assert card["metrics"] == {"cross_validation": {"uar": 0.5}}
        assert card["training"] == {"final": {"epochs": EPOCHS}}
        assert card["parity"]["eval_items"] == len(trained["y"])


def test_sizes_and_float32_exception(exported):
    sizes = {p: (exported["dir"] / f"tiny-1s-{p}.tflite").stat().st_size for p in ALL}
    assert sizes["float32"] > conv.MAX_BYTES  # 463 k float32 weights: the reported exception
    for p in ("float16", "dynamic-int8", "int8"):
        assert sizes[p] < conv.MAX_BYTES, p
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


def test_quantisation_in_card_is_the_interpreters(exported):
    for precision in ALL:
        path = exported["dir"] / f"tiny-1s-{precision}.tflite"
        card = read_card(path)
        _, din, dout = _litert(path, np.zeros((0, FRAMES, 40, 1), np.float32))
        want = "int8" if precision == "int8" else "float32"
        assert card["input"]["dtype"] == want and card["output"]["dtype"] == want
        assert list(din["shape"]) == [1, FRAMES, 40, 1]
        assert list(din["shape_signature"]) == [1, FRAMES, 40, 1]  # batch fixed to 1
        assert (card["input"]["scale"], card["input"]["zero_point"]) == \
            (pytest.approx(din["quantization"][0]), din["quantization"][1])
        assert (card["output"]["scale"], card["output"]["zero_point"]) == \
            (pytest.approx(dout["quantization"][0]), dout["quantization"][1])
    int8 = read_card(exported["dir"] / "tiny-1s-int8.tflite")
    assert int8["input"]["scale"] > 0 and int8["output"]["scale"] > 0


def test_int8_is_full_integer_with_micro_builtins(exported):
    from ai_edge_litert.interpreter import Interpreter
    path = exported["dir"] / "tiny-1s-int8.tflite"
    assert set(read_card(path)["ops"]) == INT8_OPS
    it = Interpreter(model_path=str(path))
    dtypes = {np.dtype(d["dtype"]).name for d in it.get_tensor_details()}
    assert "float32" not in dtypes and "float16" not in dtypes


def test_litert_agrees_with_keras_and_card_reports_it(exported, trained):
    X, y = trained["X"], trained["y"]
    keras_probs = trained["model"].predict(X, verbose=0)
    keras_pred = keras_probs.argmax(1)
    tolerance = {"float32": 1e-4, "float16": 2e-2, "dynamic-int8": 0.1, "int8": 0.1}
    for precision in ALL:
        path = exported["dir"] / f"tiny-1s-{precision}.tflite"
        probs, _, _ = _litert(path, X)
        assert np.abs(probs - keras_probs).max() < tolerance[precision], precision
        parity = read_card(path)["parity"]
        assert parity["agreement_with_keras"] == pytest.approx(np.mean(probs.argmax(1) == keras_pred))
        from sernet_edge.metrics import scores
        assert parity["uar"] == pytest.approx(scores(y, probs.argmax(1), LABELS)["uar"])
        assert parity["keras_uar"] == pytest.approx(scores(y, keras_pred, LABELS)["uar"])
    assert read_card(exported["dir"] / "tiny-1s-float32.tflite")["parity"]["agreement_with_keras"] == 1.0
    int8 = read_card(exported["dir"] / "tiny-1s-int8.tflite")["parity"]
    f32 = read_card(exported["dir"] / "tiny-1s-float32.tflite")["parity"]
    assert int8["uar_loss_reference"] == "float32"
    assert int8["uar_loss_vs_float32"] == pytest.approx(f32["uar"] - int8["uar"])


# ---- the card in the file ----

def test_add_card_replaces_the_entry(exported):
    path = exported["dir"] / "tiny-1s-dynamic-int8.tflite"
    data = path.read_bytes()
    card = read_card(path, data)
    again = conv.add_card(data, {**card, "labels": ["a", "b", "c"]})
    model = read_model(again)
    assert read_card(path, again)["labels"] == ["a", "b", "c"]
    assert sum(1 for i in model["metadata_buffers"]) == len(read_model(data)["metadata_buffers"])
    assert weights_sha256(model) == card["weights_sha256"]
    probs, _, _ = _litert(again, np.zeros((1, FRAMES, 40, 1), np.float32))
    assert probs.shape == (1, 3)


@pytest.fixture(scope="module")
def bare_float32(trained):
    return conv.convert_keras(trained["model"], trained["cfg"], "float32")


def test_add_card_to_a_bare_file(trained, bare_float32):
    bare = bare_float32
    assert METADATA_NAME not in read_model(bare)["metadata"]
    with_card = conv.add_card(bare, {**trained["card"], "precision": "float32"})
    assert read_card("x.tflite", with_card)["precision"] == "float32"
    assert weights_sha256(read_model(with_card)) == weights_sha256(read_model(bare))


# ---- guards ----

def test_size_guard_fails_in_one_line_and_writes_nothing(trained, tmp_path):
    with pytest.raises(SernetError) as err:
        conv.export(trained["model"], trained["card"], tmp_path / "out", ["dynamic-int8"],
                    None, None, None, name="tiny", max_bytes=100_000)
    message = str(err.value)
    assert "\n" not in message and "tiny-1s-dynamic-int8.tflite" in message and "100,000" in message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_empty_calibration_set_is_an_error(trained, tmp_path):
    empty = np.zeros((0, FRAMES, 40, 1), np.float32)
    with pytest.raises(SernetError, match="empty calibration set"):
        conv.export(trained["model"], trained["card"], tmp_path, ["int8"], None, empty, None)


def test_calibration_with_wrong_length_is_an_error(trained, tmp_path):
    with pytest.raises(SernetError, match="needs"):
        conv.export(trained["model"], trained["card"], tmp_path, ["int8"], [3.0], trained["X"], None)


def test_calibration_sample_is_deterministic():
    a = conv.calibration_indices(1000, 200)
    assert len(a) == 200 and len(set(a.tolist())) == 200
    assert np.array_equal(a, conv.calibration_indices(1000, 200))
    assert np.array_equal(conv.calibration_indices(50, 200), np.arange(50))
    assert len(conv.held_out_indices(1000, 200)) == 800
    assert not set(conv.held_out_indices(1000, 200)) & set(a.tolist())


# ---- input lengths ----

def test_one_model_exports_3s_and_7s(trained, corpus_dir, tmp_path):
    corpus = load_corpus(corpus_dir, "folder")
    cache = tmp_path / "cache"
    paths = conv.export(trained["model"], trained["card"], tmp_path, ["int8"], [3, 7],
                        lambda cfg: load_features(corpus, cfg, cache)[0],
                        lambda cfg: load_features(corpus, cfg, cache)[:2],
                        name="tiny", micro_check=False)
    assert sorted(p.name for p in paths) == ["tiny-3s-int8.json", "tiny-3s-int8.tflite",
                                             "tiny-7s-int8.json", "tiny-7s-int8.tflite"]
    for seconds, frames in ((3, 184), (7, 434)):
        path = tmp_path / f"tiny-{seconds}s-int8.tflite"
        card = read_card(path)
        cfg = FeatureConfig(seconds=seconds)
        assert cfg.input_shape == (frames, 40, 1)
        assert card["features"] == cfg.to_dict()
        assert card["input"]["shape"] == [1, frames, 40, 1] and card["input"]["seconds"] == seconds
        X, _, _ = load_features(corpus, cfg, cache)
        keras_probs = with_input_frames(trained["model"], frames).predict(X, verbose=0)
        probs, din, _ = _litert(path, X)
        assert list(din["shape"]) == [1, frames, 40, 1]
        assert np.abs(probs - keras_probs).max() < 0.1


# ---- microcontrollers ----

def test_micro_check_records_arena_and_matches_litert(exported):
    pytest.importorskip("tflite_micro")
    from sernet_edge.train.micro import micro_run
    path = exported["dir"] / "tiny-1s-int8.tflite"
    micro = read_card(path)["micro"]
    assert micro["checked_examples"] == conv.MICRO_EXAMPLES
    assert micro["max_step_diff_vs_litert"] <= 1
    data = path.read_bytes()
    x = np.random.default_rng(1).integers(-128, 128, (2, 1, FRAMES, 40, 1)).astype(np.int8)
    run = micro_run(data, x)
    assert run["arena_bytes"] == micro["arena_bytes"]
    assert 50_000 < run["arena_bytes"] < 400_000  # int8 activations of a 1 s input, not float
    card = read_card(path)
    floats = (x[:, 0].astype(np.float32) - card["input"]["zero_point"]) * card["input"]["scale"]
    ref = conv.run_tflite(data, floats, builtin_kernels=True)
    assert np.array_equal(ref["raw_inputs"], x)  # the float round trip requantises exactly
    assert np.abs(run["outputs"].astype(int) - ref["raw_outputs"].astype(int)).max() <= 1
    assert "max_step_diff_vs_litert_xnnpack" in micro


def test_micro_check_rejects_a_float_model(bare_float32):
    pytest.importorskip("tflite_micro")
    from sernet_edge.train.micro import micro_run
    with pytest.raises(ModelError, match="not int8"):
        micro_run(bare_float32, np.zeros((1, 1, FRAMES, 40, 1), np.int8))


MAIN_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "tiny-1s-int8_model_data.h"
int main(int argc, char **argv) {
    if (argc != 2 || ((uintptr_t)tiny_1s_int8_model_data % 16) != 0) return 3;
    FILE *f = fopen(argv[1], "wb");
    fwrite(tiny_1s_int8_model_data, 1, tiny_1s_int8_model_data_len, f);
    fclose(f);
    for (int i = 0; i < TINY_1S_INT8_NUM_LABELS; i++) printf("%s\n", tiny_1s_int8_labels[i]);
    printf("%d %d %.9g %d %.9g %d\n", TINY_1S_INT8_INPUT_FRAMES, TINY_1S_INT8_INPUT_COEFFS,
           (double)TINY_1S_INT8_INPUT_SCALE, TINY_1S_INT8_INPUT_ZERO_POINT,
           (double)TINY_1S_INT8_OUTPUT_SCALE, TINY_1S_INT8_OUTPUT_ZERO_POINT);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler (gcc) on this machine")
def test_c_array_compiles_and_holds_the_model(exported, tmp_path):
    src = exported["dir"] / "tiny-1s-int8_model_data.c"
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{exported['dir']}"]
    subprocess.run(["gcc", *flags, "-c", str(src), "-o", str(tmp_path / "model.o")], check=True)
    (tmp_path / "main.c").write_text(MAIN_C)
    subprocess.run(["gcc", *flags, str(tmp_path / "main.c"), str(src), "-o", str(tmp_path / "dump")],
                   check=True)
    out = subprocess.run([str(tmp_path / "dump"), str(tmp_path / "dumped.tflite")], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    model = exported["dir"] / "tiny-1s-int8.tflite"
    assert (tmp_path / "dumped.tflite").read_bytes() == model.read_bytes()
    card = read_card(model)
    assert out[:3] == LABELS
    frames, coeffs, in_scale, in_zp, out_scale, out_zp = out[3].split()
    assert (int(frames), int(coeffs)) == (FRAMES, 40)
    assert float(in_scale) == pytest.approx(card["input"]["scale"], rel=1e-6)
    assert int(in_zp) == card["input"]["zero_point"] and int(out_zp) == card["output"]["zero_point"]
    assert float(out_scale) == pytest.approx(card["output"]["scale"], rel=1e-6)


def test_c_array_needs_int8(trained, tmp_path):
    with pytest.raises(SernetError, match="int8"):
        conv.export(trained["model"], trained["card"], tmp_path, ["float16"], None, None, None,
                    c_array=True)


# ---- command line ----

def _run(*args):
    result = CliRunner().invoke(main, list(args))
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    return result, lines


def test_cli_converts_with_card_corpus_by_default(trained, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(trained["path"]), "-o", str(out),
                                       "--precision", "int8,dynamic-int8", "--no-micro-check",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sernet-edge-tiny-1s-dynamic-int8.json", "sernet-edge-tiny-1s-dynamic-int8.tflite",
                     "sernet-edge-tiny-1s-int8.json", "sernet-edge-tiny-1s-int8.tflite"]
    card = read_card(out / "sernet-edge-tiny-1s-int8.tflite")
    # fewer clips than the 200-example sample: all calibrate, and parity runs on them too
    assert card["conversion"]["calibration_examples"] == len(trained["y"])
    assert card["parity"]["eval_items"] == len(trained["y"])
    assert card["micro"] is None
    import re
    line = re.search(r"int8\.tflite: UAR ([\d.]+), (?:([\d.]+) points (below|above)|equal to) keras on",
                     result.output)
    loss = card["parity"]["uar_loss_vs_float32"]
    assert line and (line[3] == ("below" if loss > 0 else "above") if loss else line[2] is None)
    assert line[1] == f"{100 * card['parity']['uar']:.2f}"      # in %, as evaluate prints it
    assert "parity was checked on the calibration clips themselves" in result.output


def test_cli_missing_model(tmp_path):
    result, errors = _run("convert", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and len(errors) == 1 and "nope.keras: no such file" in errors[0]


def test_cli_text_file_named_keras(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model\n")
    result, errors = _run("convert", str(fake), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and len(errors) == 1 and "not a Keras model" in errors[0]


def test_cli_model_without_card(trained, tmp_path):
    lone = tmp_path / "lone.keras"
    shutil.copy(trained["path"], lone)
    result, errors = _run("convert", str(lone), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and len(errors) == 1 and "no model card" in errors[0]


def test_cli_empty_calibration_corpus(trained, tmp_path):
    empty = tmp_path / "empty"
    (empty / "anger").mkdir(parents=True)
    result, errors = _run("convert", str(trained["path"]), "-o", str(tmp_path / "out"),
                          "--precision", "int8", "--calibration", str(empty))
    assert result.exit_code == 2 and len(errors) == 1 and "no labelled audio" in errors[0]
    assert not (tmp_path / "out").exists()


def test_cli_unknown_precision(trained, tmp_path):
    result = CliRunner().invoke(main, ["convert", str(trained["path"]), "-o", str(tmp_path),
                                       "--precision", "int4"])
    assert result.exit_code == 2 and "int4" in result.output


def test_cli_help_documents_every_option():
    result = CliRunner().invoke(main, ["convert", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--precision", "--seconds", "--calibration", "--calibration-limit",
                   "--eval", "--name", "--card", "--max-bytes", "--c-array", "--micro-check",
                   "--corpus-type", "--subset", "--speaker-pattern", "--label-source", "--votes",
                   "--cache-dir"):
        assert option in result.output, option


def test_cli_module_does_not_import_tensorflow():
    code = "import sys, sernet_edge.cli.convert; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_cli_int8_without_any_calibration_corpus(trained, tmp_path):
    card = {**trained["card"], "source": {"corpus": "tiny", "root": str(tmp_path / "gone")}}
    (tmp_path / "card.json").write_text(json.dumps(card))
    result, errors = _run("convert", str(trained["path"]), "-o", str(tmp_path / "out"),
                          "--card", str(tmp_path / "card.json"), "--precision", "int8")
    assert result.exit_code == 2 and len(errors) == 1
    assert "no calibration corpus" in errors[0] and "--calibration" in errors[0]


def test_cli_eval_corpus_name_and_seconds(trained, corpus_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(trained["path"]), "-o", str(out),
                                       "--precision", "dynamic-int8", "--seconds", "2",
                                       "--eval", str(corpus_dir), "--name", "demo",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    card = read_card(out / "demo-2s-dynamic-int8.tflite")
    assert card["input"]["shape"] == [1, FeatureConfig(seconds=2).input_shape[0], 40, 1]
    assert card["parity"]["eval_items"] == len(trained["y"])
    assert card["conversion"]["eval_corpus"] == str(corpus_dir)
    assert card["conversion"]["calibration_corpus"] is None

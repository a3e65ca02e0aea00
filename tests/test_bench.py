"""Benchmark suite: exact counts on graphs worked out by hand, Light-SERNet against the paper,
and the measuring machinery (structure only: timing values are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sernet_edge.bench.graph import Graph, Op, Tensor, analyse, live_bytes, live_ranges
from sernet_edge.bench.timing import config_for_shape, summarise
from sernet_edge.cli import main

F32 = 4
PAPER_MFLOPS = {3: 322.0, 7: 760.0}
PAPER_MACS_M = {3: 159.3, 7: 376.2}
PAPER_PEAK_KIB = {3: 1610, 7: 3797}
FRAMES = {3: 184, 7: 434}

# the int8 converter warns that it has no input statistics; the representative data gives them
pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning")


# ---- helpers that need TensorFlow (only inside the tests that use them) ----

def _randomise(model, seed=0):
    """Random weights so that no two constant tensors are equal (the converter shares equal
    buffers and drops all-zero biases); batch-norm variances stay positive."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.path:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            values.append(rng.normal(0.0, 0.3, shape).astype("float32"))
    model.set_weights(values)
    return model


def _to_tflite(model, path: Path, int8_input_shape=None) -> Path:
    tf = pytest.importorskip("tensorflow")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8_input_shape is not None:
        rng = np.random.default_rng(1)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, int8_input_shape).astype(np.float32)] for _ in range(4))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())
    return path


def _keras():
    pytest.importorskip("tensorflow")
    import keras
    return keras


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-models")


@pytest.fixture(scope="module")
def branch_model(tiny_dir):
    """x(8x4x1) -> a = conv1x1(2), b = conv1x1(3) -> concat(5) -> conv1x1(1): `a` stays live
    while `b` is computed, which a per-operator (input + output) count would miss."""
    keras = _keras()
    layers = keras.layers
    x = keras.Input((8, 4, 1), batch_size=1)
    a = layers.Conv2D(2, 1)(x)
    b = layers.Conv2D(3, 1)(x)
    y = layers.Conv2D(1, 1)(layers.Concatenate()([a, b]))
    model = _randomise(keras.Model(x, y))
    return (_to_tflite(model, tiny_dir / "branch.tflite"),
            _to_tflite(model, tiny_dir / "branch-int8.tflite", int8_input_shape=(1, 8, 4, 1)))


@pytest.fixture(scope="module")
def mfcc_model(tiny_dir):
    """A tiny float model with a 3 s MFCC input, for the measuring code."""
    keras = _keras()
    layers = keras.layers
    x = keras.Input((184, 40, 1), batch_size=1)
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(y))
    return _to_tflite(_randomise(keras.Model(x, y)), tiny_dir / "mfcc-3s.tflite")


@pytest.fixture(scope="module")
def light_sernet(tiny_dir):
    """Light-SERNet at 3 s and 7 s, float32, random weights (no training needed for counts)."""
    pytest.importorskip("tensorflow")
    from sernet_edge.train.model import build_model
    out = {}
    for seconds in (3, 7):
        model = _randomise(build_model((FRAMES[seconds], 40, 1), 7), seed=seconds)
        out[seconds] = (model, _to_tflite(model, tiny_dir / f"light-sernet-{seconds}s.tflite"))
    return out


# ---- exact counts on small graphs ----

def test_single_conv_counts(tiny_dir):
    keras = _keras()
    x = keras.Input((8, 6, 2), batch_size=1)
    model = _randomise(keras.Model(x, keras.layers.Conv2D(4, 3, padding="same")(x)))
    s = analyse(_to_tflite(model, tiny_dir / "conv.tflite"))
    assert [r["op"] for r in s["ops"]] == ["CONV_2D"]
    out = 8 * 6 * 4
    assert s["macs"] == out * 3 * 3 * 2 == 3456
    assert s["flops"] == 2 * 3456 + out           # + bias, no activation
    assert s["params"] == 4 * 3 * 3 * 2 + 4
    assert s["param_bytes"] == 76 * F32
    assert s["peak_activation_bytes"] == (8 * 6 * 2 + out) * F32 == 1152
    assert s["precision"] == "float32"
    assert s["file_bytes"] == (tiny_dir / "conv.tflite").stat().st_size


def test_non_mfcc_input_is_counted_but_not_timed(tiny_dir):
    from sernet_edge.bench.report import text_report
    from sernet_edge.bench.timing import benchmark
    keras = _keras()
    x = keras.Input((5, 3), batch_size=1)
    path = _to_tflite(_randomise(keras.Model(x, keras.layers.Dense(2)(x))), tiny_dir / "d.tflite")
    r = benchmark([path], threads=(1,), runs=1, warmup=0)
    m = r["models"][0]
    assert m["macs"] == 5 * 3 * 2
    assert "not an MFCC image" in m["timing"]["skipped"] and "features" not in m
    assert "timing and process memory skipped" in text_report(r)


def test_conv_pool_dense_counts(tiny_dir):
    keras = _keras()
    layers = keras.layers
    x = keras.Input((8, 8, 1), batch_size=1)
    y = layers.Conv2D(3, 3, padding="same", activation="relu")(x)
    y = layers.Dense(5)(layers.Flatten()(layers.AveragePooling2D(2)(y)))
    s = analyse(_to_tflite(_randomise(keras.Model(x, y)), tiny_dir / "cpd.tflite"))
    assert [r["op"] for r in s["ops"]] == ["CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    conv_out, pool_out = 8 * 8 * 3, 4 * 4 * 3
    assert [r["macs"] for r in s["ops"]] == [conv_out * 9, 0, 0, 48 * 5]
    assert [r["flops"] for r in s["ops"]] == [
        2 * conv_out * 9 + conv_out + conv_out,   # MACs, bias, ReLU
        4 * pool_out,                             # 2x2 window per output
        0,
        2 * 48 * 5 + 5,                           # MACs, bias
    ]
    assert s["params"] == (27 + 3) + (240 + 5)    # the reshape's int32 shape is not a parameter
    # live: conv in+out, conv out + pool out, pool out + reshape out, reshape out + logits
    assert [r["live_bytes"] for r in s["ops"]] == [
        (64 + 192) * F32, (192 + 48) * F32, (48 + 48) * F32, (48 + 5) * F32]
    assert s["peak_activation_bytes"] == 1024
    assert s["peak_op"] == {"index": 0, "op": "CONV_2D"}


def test_branch_liveness_float32(branch_model):
    s = analyse(branch_model[0])
    ops = s["ops"]
    assert [r["op"] for r in ops] == ["CONV_2D", "CONV_2D", "CONCATENATION", "CONV_2D"]
    channels = {r["output_shape"][-1] for r in ops[:2]}
    assert channels == {2, 3}
    first = ops[0]["output_shape"][-1]            # the converter may run either branch first
    n = 8 * 4
    x, a, b, c, d = n, n * first, n * (5 - first), n * 5, n
    assert [r["live_bytes"] for r in ops] == [F32 * v for v in (x + a, x + a + b, a + b + c, c + d)]
    assert s["peak_activation_bytes"] == F32 * (2 * n + 3 * n + 5 * n) == 1280
    assert s["macs"] == n * 2 + n * 3 + n * 5
    assert s["params"] == (2 + 2) + (3 + 3) + (5 + 1)


def test_branch_liveness_int8_and_micro_arena(branch_model):
    s = analyse(branch_model[1])
    assert s["precision"] == "int8" and s["integer_only"]
    assert s["input"]["dtype"] == "int8"
    assert [r["live_bytes"] for r in s["ops"]] == [r["live_bytes"] // F32
                                                     for r in analyse(branch_model[0])["ops"]]
    assert s["peak_activation_bytes"] == 320
    pytest.importorskip("tflite_micro")
    from sernet_edge.bench.timing import micro_arena
    arena = micro_arena(branch_model[1], s["peak_activation_bytes"])
    # TFLite Micro's planner packs the same live tensors: its arena head is our peak
    assert arena["head_bytes"] == 320
    assert arena["arena_bytes"] > arena["head_bytes"]


def test_liveness_on_a_hand_built_graph():
    """No TensorFlow: x -> op0 -> t1; op1(x) -> t2; op2(t1, t2) -> t3 (output); w constant."""
    def t(i, n, const=False):
        return Tensor(i, f"t{i}", (n,), "float32", 4, const)
    g = Graph({0: t(0, 10), 1: t(1, 20), 2: t(2, 30), 3: t(3, 5), 4: t(4, 1000, const=True)},
              (Op(0, "MUL", (0, 4), (1,)), Op(1, "RELU", (0,), (2,)), Op(2, "ADD", (1, 2), (3,))),
              inputs=(0,), outputs=(3,))
    assert live_ranges(g) == {0: (0, 1), 1: (0, 2), 2: (1, 2), 3: (2, 2)}
    assert live_bytes(g) == [4 * 30, 4 * 60, 4 * 55]


# ---- Light-SERNet against the paper ----

def _light_sernet_macs(frames: int) -> int:
    """Worked out from the architecture: 'same' convolutions, 2x2 / 2x1 pools rounding up."""
    t, f = frames, 40
    macs = t * f * 32 * (11 + 9 + 9)                       # body I, three paths
    t, f = -(-t // 2), -(-f // 2)
    cin = 96
    for cout, (pt, pf) in zip((64, 96, 128, 160), ((2, 2), (2, 2), (2, 1), (2, 1))):
        macs += t * f * cout * 9 * cin
        t, f, cin = -(-t // pt), -(-f // pf), cout
    return macs + t * f * 320 * cin + 320 * 7              # 1x1 conv, dense


@pytest.mark.parametrize("seconds", [3, 7])
def test_light_sernet_against_paper(light_sernet, seconds):
    keras_model, path = light_sernet[seconds]
    s = analyse(path)
    assert s["macs"] == _light_sernet_macs(FRAMES[seconds])
    assert s["macs"] / 1e6 == pytest.approx(PAPER_MACS_M[seconds], abs=0.05)
    assert s["mflops"] == pytest.approx(PAPER_MFLOPS[seconds], rel=0.02)
    # BN is folded: each conv keeps its kernel plus one bias per output channel
    convs = [w for w in keras_model.weights if w.path.endswith("conv/kernel")]
    dense = [w for w in keras_model.weights if w.path.startswith("emotion/")]
    expected = sum(int(np.prod(w.shape)) + w.shape[-1] for w in convs)
    expected += sum(int(np.prod(w.shape)) for w in dense)
    assert keras_model.count_params() == 463_431
    assert s["params"] == expected == 460_743
    if seconds == 3:
        assert s["peak_activation_bytes"] == 1_648_640   # the paper's 1610 KiB
    assert s["peak_activation_bytes"] / 1024 == pytest.approx(PAPER_PEAK_KIB[seconds], abs=1)
    assert s["uncounted_ops"] == []


def test_resized_counts_equal_a_file_written_at_that_length(light_sernet):
    """Counting the 3 s file with its input resized to 7 s gives the 7 s file's figures."""
    from sernet_edge.bench.graph import analyse_bytes
    path3, path7 = light_sernet[3][1], light_sernet[7][1]
    resized = analyse_bytes(path3.read_bytes(), path3, [1, FRAMES[7], 40, 1])
    native = analyse(path7)
    for key in ("macs", "flops", "params", "peak_activation_bytes"):
        assert resized[key] == native[key], key
    assert [r["output_shape"] for r in resized["ops"]] == [r["output_shape"] for r in native["ops"]]


# ---- window lengths, without TensorFlow: the bundled int8 model ----

BUNDLED_INT8 = Path(__file__).resolve().parents[1] / "models" / "light-sernet-multi-3s-int8.tflite"


def test_rewritten_shapes_run_like_a_resized_interpreter():
    """The 7 s copy of the file (tensor shapes rewritten, for TFLite Micro) loads at 434 frames
    and gives bit-for-bit the output of the interpreter resized to 434 frames."""
    from sernet_edge.bench.timing import resized_shapes
    from sernet_edge.interpreter import make_interpreter
    from sernet_edge.tflite_file import with_tensor_shapes
    data = BUNDLED_INT8.read_bytes()
    shape = [1, FRAMES[7], 40, 1]
    copy = with_tensor_shapes(data, resized_shapes(data, BUNDLED_INT8, shape))
    assert len(copy) == len(data) and copy != data
    x = np.random.default_rng(7).integers(-128, 128, shape).astype(np.int8)
    outputs = []
    for interp in (make_interpreter(copy, 1), make_interpreter(data, 1, input_shape=shape)):
        d = interp.get_input_details()[0]
        assert list(d["shape"]) == shape
        interp.set_tensor(d["index"], x)
        interp.invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_bundled_models_at_3_and_7_seconds_by_default():
    res = CliRunner().invoke(main, ["bench", "--no-timing", "--no-micro", "--json", "-"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    rows = [(m["name"], m["window"]["seconds"], m["input"]["shape"][1]) for m in data["models"]]
    assert rows == [("light-sernet-multi-3s-int8.tflite", 3.0, 184),
                    ("light-sernet-multi-3s-int8.tflite", 7.0, 434),
                    ("light-sernet-multi-3s-float16.tflite", 3.0, 184),
                    ("light-sernet-multi-3s-float16.tflite", 7.0, 434)]
    by = {(m["precision"], m["window"]["seconds"]): m for m in data["models"]}
    for seconds in (3, 7):      # the paper's figures, from the bundled 6-class files
        assert by["float16", seconds]["mflops"] == pytest.approx(PAPER_MFLOPS[seconds], rel=0.005)
        assert by["float16", seconds]["peak_activation_bytes"] / 1024 == pytest.approx(
            PAPER_PEAK_KIB[seconds], rel=0.005)
        # the edge-repeat copies of the depthwise pools (train/xnnpack_pools.py) cost memory
        assert by["int8", seconds]["peak_activation_bytes"] * 4 > \
            by["float16", seconds]["peak_activation_bytes"]
        # depthwise pools add their MACs: 1 per input element of each pool window
        assert by["int8", seconds]["macs"] > by["float16", seconds]["macs"]
    assert by["float16", 7.0]["macs"] == _light_sernet_macs(FRAMES[7]) - 320 * 7 + 320 * 6
    assert data["settings"]["seconds"] == [3.0, 7.0] and data["skipped_windows"] == []


def test_micro_arena_grows_with_the_window():
    pytest.importorskip("tflite_micro")
    res = CliRunner().invoke(main, ["bench", "multi-micro", "--no-timing", "--json", "-",
                                    "--seconds", "3,7"])
    assert res.exit_code == 0, res.output
    micro = [m["micro"] for m in json.loads(res.stdout)["models"]]
    models = json.loads(res.stdout)["models"]
    assert [m["peak_activation_bytes"] * 4 for m in models] == [1_648_640, 3_888_640]
    assert 0 < micro[0]["arena_bytes"] < micro[1]["arena_bytes"]
    peaks = [m["peak_activation_bytes"] for m in json.loads(res.stdout)["models"]]
    # the planner packs the same live tensors at both lengths: its head is our peak
    assert [a["head_bytes"] for a in micro] == peaks


@pytest.mark.parametrize("value", ["0", "3,-7", "three", ","])
def test_cli_bad_seconds(value):
    res = CliRunner().invoke(main, ["bench", "--no-timing", "--seconds", value])
    assert res.exit_code == 2 and "--seconds" in res.output


# ---- measuring ----

def test_summarise_and_window_length():
    stats = summarise([i / 1000 for i in range(1, 11)])
    assert stats == {"median_ms": pytest.approx(5.5), "p90_ms": pytest.approx(9.1),
                     "min_ms": pytest.approx(1.0), "runs": 10}
    assert config_for_shape(184, 40).seconds == 3.0
    assert config_for_shape(434, 40).seconds == 7.0
    odd = config_for_shape(100, 40)
    assert odd.num_frames == 100 and odd.n_mfcc == 40


def test_benchmark_measures_everything(mfcc_model):
    from sernet_edge.bench.timing import benchmark
    r = benchmark([mfcc_model], threads=(1, 2), runs=3, warmup=1, micro=True, seconds=(3.0,))
    assert len(r["models"]) == 1
    m = r["models"][0]
    assert m["features"] == {"seconds": 3.0, "frames": 184, "n_mfcc": 40, "source": "input shape"}
    t = m["timing"]
    # 3 runs in 5 interleaved rounds: 1 per round, 5 per thread count; MFCC pooled over both
    assert t["rounds"] == 5 and t["mfcc"]["runs"] == 10
    assert [row["invoke"]["runs"] for row in t["threads"]] == [5, 5]
    assert [row["threads"] for row in t["threads"]] == [1, 2]
    for row in t["threads"]:
        for key in ("invoke", "end_to_end"):
            st = row[key]
            assert 0 < st["min_ms"] <= st["median_ms"] <= st["p90_ms"]
        assert row["rtf"] == pytest.approx(row["end_to_end"]["median_ms"] / 3000.0)
        assert list(row["stages"]) == ["read_ms", "mfcc_ms", "quantise_ms", "invoke_ms",
                                       "dequantise_ms"]
        assert all(v > 0 for v in row["stages"].values())
    proc = m["process"]
    assert proc["peak_rss_bytes"] > proc["python_numpy_baseline_bytes"] > 0
    assert m["micro"] == {"skipped": "not an integer-only model"}
    for key in ("date", "cpu", "cores", "python", "numpy", "runtime", "platform"):
        assert r["machine"][key]


def test_card_settings_and_classify_process(mfcc_model, tmp_path):
    """With a model card, bench uses the card's front end and the real runtime's classifier."""
    import shutil

    from sernet_edge.bench.timing import benchmark, process_memory, synthetic_clip
    from sernet_edge.card import new_card
    from sernet_edge.features import FeatureConfig
    from sernet_edge.io import write_json
    model = tmp_path / "carded.tflite"
    shutil.copy(mfcc_model, model)
    write_json(model.with_suffix(".json"), new_card(["a", "b", "c"], FeatureConfig(), "float32"))
    r = benchmark([model], timing=False, micro=False)
    assert r["models"][0]["features"]["source"] == "card"
    assert "timing" not in r["models"][0] and "process" not in r["models"][0]
    clip = synthetic_clip(3.0, tmp_path / "clip.wav")
    assert process_memory(model, clip)["peak_rss_bytes"] > 0
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"\x00\x00\x00\x00TFL3" + bytes(64))
    assert "skipped" in process_memory(broken, clip)


# ---- the command ----

def test_cli_json_and_chart(mfcc_model, tmp_path):
    chart = tmp_path / "bench.png"
    res = CliRunner().invoke(main, ["bench", str(mfcc_model), "--no-timing", "--json", "-",
                                    "--chart", str(chart)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    m = data["models"][0]
    assert m["macs"] == 184 * 40 * 4 * 9 + 4 * 3
    assert m["ops"][0]["op"] == "CONV_2D" and "timing" not in m
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table(mfcc_model, tmp_path):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["bench", str(mfcc_model), "--runs", "2", "--warmup", "0",
                                    "--threads", "1", "--json", str(out), "--per-op"])
    assert res.exit_code == 0, res.output
    for text in ("params", "MFLOPs", "peak act KiB", "end-to-end ms", "RTF", "CONV_2D",
                 "mfcc-3s.tflite at 3 s", "mfcc-3s.tflite at 7 s", "434x40"):
        assert text in res.output
    models = json.loads(out.read_text())["models"]
    assert [m["timing"]["seconds"] for m in models] == [3.0, 7.0]
    assert models[1]["timing"]["threads"][0]["threads"] == 1
    assert models[1]["process"]["peak_rss_bytes"] > 0


@pytest.mark.parametrize("content", [None, b"not a model", b"\x00\x00\x00\x00TFL3\x00\x00"])
def test_cli_bad_model_is_one_line(tmp_path, content):
    path = tmp_path / "m.tflite"
    if content is not None:
        path.write_bytes(content)
    res = CliRunner().invoke(main, ["bench", str(path), "--no-timing"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "m.tflite" in lines[0]


def test_cli_bad_threads(mfcc_model):
    res = CliRunner().invoke(main, ["bench", str(mfcc_model), "--threads", "0"])
    assert res.exit_code == 2 and "--threads" in res.output


def test_bench_never_imports_tensorflow(mfcc_model):
    code = ("import sys; from sernet_edge.cli import main; "
            "main(['bench', sys.argv[1], '--runs', '1', '--warmup', '0', '--threads', '1'], "
            "standalone_mode=False); "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code, str(mfcc_model)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_a_model_that_cannot_resize_is_counted_at_its_own_length(tiny_dir):
    """Flatten + Dense fixes the input length: the 7 s window is skipped with the reason."""
    keras = _keras()
    x = keras.Input((184, 40, 1), batch_size=1)
    y = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3, padding="same")(x)))
    path = _to_tflite(_randomise(keras.Model(x, y)), tiny_dir / "flat-3s.tflite")
    res = CliRunner().invoke(main, ["bench", str(path), "--no-timing", "--json", "-"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [m["window"]["seconds"] for m in data["models"]] == [3.0]
    (skipped,) = data["skipped_windows"]
    assert skipped["model"] == "flat-3s.tflite" and skipped["seconds"] == 7.0 and skipped["reason"]
    text = CliRunner().invoke(main, ["bench", str(path), "--no-timing"]).output
    assert "flat-3s.tflite: not run at 7 s: " in text

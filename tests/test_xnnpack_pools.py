"""int8 average pools rewritten as edge-repeat + depthwise convolution (train/xnnpack_pools.py):
the same answers, one XNNPACK partition, any input length, still TFLite Micro. No TensorFlow:
the bundled int8 model, written with average pools, is the input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sernet_edge.card import read_card
from sernet_edge.errors import ModelError
from sernet_edge.interpreter import make_interpreter
from sernet_edge.train.xnnpack_pools import depthwise_pools

MODELS = Path(__file__).resolve().parents[1] / "models"
MICRO = MODELS / "light-sernet-multi-3s-int8-micro.tflite"      # average pools
FLOAT16 = MODELS / "light-sernet-multi-3s-float16.tflite"


@pytest.fixture(scope="module")
def pair():
    data = MICRO.read_bytes()
    return data, depthwise_pools(data, MICRO.name)


def _ops(interp) -> list[str]:
    return [op["op_name"] for op in interp._get_ops_details()]


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    it = make_interpreter(data, 1, input_shape=x.shape)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).astype(int)


def test_no_average_pool_left_and_one_partition(pair):
    before, after = pair
    assert _ops(make_interpreter(before, 1)).count("DELEGATE") == 6
    ops = _ops(make_interpreter(after, 1))
    assert ops.count("DELEGATE") == 1 and "AVERAGE_POOL_2D" not in ops
    assert ops.count("DEPTHWISE_CONV_2D") == 7
    # 2x2 pools repeat the last frame (time axis: always) but not the last of 40/20/10
    # coefficients (even); the two 2x1 pools repeat only the frame
    assert ops.count("STRIDED_SLICE") == ops.count("CONCATENATION") - 1 == 7


def test_card_and_weights_of_the_network_survive(pair):
    before, after = pair
    assert read_card("after.tflite", after) == read_card("before.tflite", before)


@pytest.mark.parametrize("frames", [184, 434, 247])   # 3 s, 7 s, and an odd length (4 s)
def test_same_outputs_at_any_length(pair, frames):
    before, after = pair
    rng = np.random.default_rng(frames)
    worst = 0
    for _ in range(6):
        x = rng.integers(-128, 128, (1, frames, 40, 1)).astype(np.int8)
        a, b = _run(before, x), _run(after, x)
        worst = max(worst, int(np.abs(a - b).max()))
    assert worst <= 8


def test_bundled_clips_same_labels(pair):
    from sernet_edge.audio import load_audio
    from sernet_edge.card import feature_config
    from sernet_edge.features import extract
    from sernet_edge.interpreter import to_input
    from sernet_edge.runtime import bundled_clips
    before, after = pair
    cfg = feature_config(read_card(MICRO))
    detail = make_interpreter(before, 1).get_input_details()[0]
    for clip in bundled_clips():
        x = to_input(extract(load_audio(clip), cfg), detail)
        a, b = _run(before, x), _run(after, x)
        # the pool rounds its integer sum, the convolution requantises in float32: one-step
        # differences inside the network add up to a few output steps of 1/256 (5 seen)
        assert a.argmax() == b.argmax() and np.abs(a - b).max() <= 8, clip.name


def test_runs_under_tflite_micro(pair):
    pytest.importorskip("tflite_micro")
    from sernet_edge.train.micro import micro_run
    before, after = pair
    x = np.random.default_rng(3).integers(-128, 128, (2, 1, 184, 40, 1)).astype(np.int8)
    micro = micro_run(after, x)
    ref = np.stack([_run(after, xi) for xi in x])
    assert np.abs(micro["outputs"].astype(int).reshape(ref.shape) - ref).max() <= 1
    # the repeated rows are copies: the arena grows, which is why microcontrollers keep pools
    assert micro["arena_bytes"] > micro_run(before, x)["arena_bytes"]


def test_float_pools_and_files_without_pools():
    with pytest.raises(ModelError, match="only int8 average pools"):
        depthwise_pools(FLOAT16.read_bytes(), FLOAT16.name)
    rewritten = depthwise_pools(MICRO.read_bytes())
    assert depthwise_pools(rewritten) == rewritten     # nothing left to rewrite

"""Start training from a bundled model (`train --init multi`): its Keras network rebuilt from
the bundled float16 .tflite file. Any float .tflite that `convert` wrote (with its card) starts
a run the same way (`--init model-float16.tflite`).

The bundled models ship as .tflite only. Their float16 file holds every weight of the trained
network at float16 precision, with each BatchNormalization folded into the convolution before
it: kernel times gamma / sqrt(var + eps), bias b' = beta + (b - mean) gamma / sqrt(var + eps).
The rebuild puts the folded kernels into the convolutions and each folded bias into the
convolution's bias (body I, whose convolutions have one) or into the BatchNormalization's beta
(the LFLBs and the final 1x1, whose convolutions have none), and makes every BatchNormalization
the identity plus that beta. Training keeps those BatchNormalization layers frozen (Keras then
runs them in inference mode, with the batch statistics out of play), so fine-tuning starts from
exactly the shipped function. Every rebuild is checked against the file on a probe input.

No TensorFlow at import: the CLI asks this module for the front end and the width.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from sernet_edge.card import read_card
from sernet_edge.errors import ModelError, SernetError
from sernet_edge.features import FeatureConfig

FLOAT_PRECISIONS = ("float16", "float32")
FLOAT_SUFFIX = "-float16"     # the bundled short name of a model's float16 file: multi-float16
FRONT_END_FREE = ("seconds",)  # the network is fully convolutional: the input length may differ
PROBE_TOLERANCE = 1e-4         # rebuilt Keras against the float file, on probabilities


def bundled_file(init) -> Path | None:
    """The installed bundled .tflite that `init` names (short name, file name or stem); None
    where it names none. An existing path is never read as a bundled name."""
    from sernet_edge.runtime import bundled_models
    if not init or Path(init).exists():
        return None
    models = bundled_models()
    if str(init) in models:
        return models[str(init)]
    for path in models.values():
        if str(init) in (path.name, path.stem):
            return path
    return None


def is_bundled(init) -> bool:
    return bundled_file(init) is not None


def start_names() -> list[str]:
    """The bundled short names that --init takes (those with a float file to start from);
    `multi-float16` is left out where `multi` says the same."""
    from sernet_edge.runtime import bundled_models
    names = [n for n in bundled_models() if _float_file(n) is not None]
    return [n for n in names if not (n.endswith(FLOAT_SUFFIX) and n[:-len(FLOAT_SUFFIX)] in names)]


def _float_file(init) -> Path | None:
    """The float file of the bundled model `init` names: itself where it is float, else the
    bundled `<name>-float16` (int8 `multi` -> `multi-float16`)."""
    from sernet_edge.runtime import bundled_models
    path = bundled_file(init)
    if path is None:
        return None
    if read_card(path)["precision"] in FLOAT_PRECISIONS:
        return path
    models = bundled_models()
    short = [n for n, p in models.items() if p == path]
    for name in short:
        twin = models.get(name + FLOAT_SUFFIX)
        if twin is not None and read_card(twin)["precision"] in FLOAT_PRECISIONS:
            return twin
    return None


def start_file(init) -> Path | None:
    """The float .tflite that the weights of `init` come from: a bundled model's float file, or
    `init` itself where it is a .tflite file; None for any other --init. SernetError for a
    bundled model with no float file (int8 only) and for an int8 file."""
    if init and str(init).endswith(".tflite") and Path(init).is_file():
        precision = read_card(init)["precision"]
        if precision not in FLOAT_PRECISIONS:
            raise SernetError(f"--init {init}: precision {precision}; training starts from a "
                              "float16 or float32 file")
        return Path(init)
    if not is_bundled(init):
        return None
    path = _float_file(init)
    if path is None:
        raise SernetError(f"--init {init}: this bundled model is int8 only, with no float file "
                          f"to start from (bundled starts: {', '.join(start_names())})")
    return path


def from_tflite(init) -> bool:
    """Whether --init `init` is rebuilt from a .tflite file (a bundled name or a file)."""
    return start_file(init) is not None


def start_card(init) -> dict | None:
    """The card of the float file that bundled `init` starts from; None for other --init."""
    path = start_file(init)
    return None if path is None else read_card(path)


def origin(init) -> dict | None:
    """What a run's card records of a start from a .tflite: the bundled name given (or the
    path), the file the weights came from and its weights checksum (as its card has it), its
    classes and network."""
    card = start_card(init)
    if card is None:
        return None
    path = start_file(init)
    named = {"bundled": str(init)} if is_bundled(init) else {"path": str(init)}
    return {**named, "file": path.name, "weights_sha256": card["weights_sha256"],
            "precision": card["precision"], "labels": list(card["labels"]),
            "filters": list(folded_weights(path)["filters"]),
            "batchnorm": "folded into the convolutions; identity plus the folded bias, frozen"}


def front_end(init, given: dict) -> dict:
    """The run's feature settings for bundled `init`: its card's. `given` holds the settings the
    user gave (a --config file's `features`, --cmvn, --seconds); one that differs from the card
    is refused, other than the input length, since weights learnt on one front end are noise on
    another."""
    card = start_card(init)
    theirs = {**FeatureConfig().to_dict(), **card["features"]}   # older cards lack new settings
    for name, value in given.items():
        if name not in theirs:
            raise SernetError(f"unknown feature setting {name!r}")
        if name not in FRONT_END_FREE and value != theirs[name]:
            raise SernetError(f"--init {init}: the model was trained with {name} {theirs[name]!r}, "
                              f"not {value!r}; its front end comes with it (leave {name} out)")
    return {**theirs, **{k: v for k, v in given.items() if k in FRONT_END_FREE}}


def width(init, given: float | None) -> float:
    """The run's --width for bundled `init`: the model's own. A --width given that differs is
    refused: no layer of another width could take its weights."""
    from sernet_edge.train.model import BODY1_FILTERS, filter_counts
    filters = folded_weights(start_file(init))["filters"]
    own = round(filters[0] / BODY1_FILTERS, 4)
    if filter_counts(own) != filters:
        raise ModelError(f"--init {init}: filter counts {list(filters)} are no width of "
                         "Light-SERNet")
    if given is not None and filter_counts(given) != filters:
        raise SernetError(f"--init {init}: the model has width {own:g}, not {given:g} "
                          "(leave --width out)")
    return own


# ---- reading the float file ----

@functools.cache
def folded_weights(path: Path) -> dict:
    """The weights of a Light-SERNet float .tflite as float32 arrays in Keras layout:
    {"filters": (body I, LFLB 1-4, final), "convs": {layer: (kernel, bias)}, "emotion":
    (kernel, bias), "input_shape": (frames, n_mfcc, 1)}. ModelError for another graph."""
    from sernet_edge.bench import plain_interpreter, read_model_file
    from sernet_edge.train.model import BODY1_KERNELS, LFLB_FILTERS
    data = read_model_file(path)
    interp = plain_interpreter(data, path)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    producer = {int(o): op for op in ops for o in op["outputs"]}
    graph_input = int(interp.get_input_details()[0]["index"])

    def constant(index: int) -> np.ndarray:
        op = producer.get(index)
        if op is not None and op["op_name"] == "DEQUANTIZE":    # float16 weights
            index = int(op["inputs"][0])
        elif op is not None:
            raise ModelError(f"{path}: weight tensor {index} is computed, not stored")
        value = interp.get_tensor(index)
        if value.dtype not in (np.float16, np.float32):
            raise ModelError(f"{path}: {value.dtype} weights; --init needs a float model")
        return value.astype(np.float32)

    def source_conv(index: int):
        """The CONV_2D behind a tensor, through pools."""
        op = producer.get(index)
        while op is not None and op["op_name"] == "AVERAGE_POOL_2D":
            op = producer.get(int(op["inputs"][0]))
        return op

    convs = [op for op in ops if op["op_name"] == "CONV_2D"]
    dense = [op for op in ops if op["op_name"] == "FULLY_CONNECTED"]
    concat = [op for op in ops if op["op_name"] == "CONCATENATION"]
    body1 = [op for op in convs if int(op["inputs"][0]) == graph_input]
    chain = [op for op in convs if int(op["inputs"][0]) != graph_input]
    if len(body1) != len(BODY1_KERNELS) or len(chain) != len(LFLB_FILTERS) + 1 or \
            len(dense) != 1 or len(concat) != 1:
        raise ModelError(f"{path}: not a Light-SERNet graph ({len(convs)} convolutions, "
                         f"{len(dense)} fully connected)")
    if [source_conv(int(i)) for i in concat[0]["inputs"]] != body1:
        raise ModelError(f"{path}: not a Light-SERNet graph (body I paths out of order)")
    convs_out = {}
    names = [f"path{i + 1}_conv" for i in range(len(BODY1_KERNELS))] + \
        [f"lflb{i + 1}_conv" for i in range(len(LFLB_FILTERS))] + ["final_conv"]
    for name, op in zip(names, body1 + chain):
        kernel = constant(int(op["inputs"][1])).transpose(1, 2, 3, 0)  # (out,h,w,in) -> (h,w,in,out)
        bias = constant(int(op["inputs"][2])) if len(op["inputs"]) > 2 and op["inputs"][2] >= 0 \
            else np.zeros(kernel.shape[-1], np.float32)
        convs_out[name] = (kernel, bias)
    for i, kernel in enumerate(BODY1_KERNELS):
        if convs_out[f"path{i + 1}_conv"][0].shape[:2] != kernel:
            raise ModelError(f"{path}: not a Light-SERNet graph (body I path {i + 1} kernel "
                             f"{convs_out[f'path{i + 1}_conv'][0].shape[:2]})")
    fc = dense[0]
    emotion = (constant(int(fc["inputs"][1])).T, constant(int(fc["inputs"][2])))
    filters = tuple(int(convs_out[n][0].shape[-1]) for n in names if n not in ("path2_conv", "path3_conv"))
    shape = tuple(int(d) for d in interp.get_input_details()[0]["shape"][1:])
    return {"filters": filters, "convs": convs_out, "emotion": emotion, "input_shape": shape}


def rebuild(init):
    """The Keras Light-SERNet of `init` (a bundled name or a float .tflite: the float file's
    function, BatchNormalization identity plus the folded bias), checked against the file's
    card (weights_sha256) and on a probe input."""
    from sernet_edge.tflite_file import read_model, weights_sha256
    from sernet_edge.train.model import build_model
    path = start_file(init)
    card = read_card(path)
    if weights_sha256(read_model(path.read_bytes(), str(path))) != card.get("weights_sha256"):
        raise ModelError(f"{path}: its weights are not those its card names (weights_sha256)")
    w = folded_weights(path)
    known = (card.get("architecture") or {}).get("filters")
    if known is not None and tuple(known) != w["filters"]:
        raise ModelError(f"{path}: filters {list(w['filters'])}, its card says {known}")
    model = build_model(w["input_shape"], len(card["labels"]), l2=0.0, dropout=0.0,
                        filters=w["filters"])
    for name, (kernel, bias) in w["convs"].items():
        conv = model.get_layer(name)
        bn = model.get_layer(name.replace("_conv", "_bn"))
        if conv.use_bias:
            conv.set_weights([kernel, bias])
            bias = np.zeros_like(bias)
        else:
            conv.set_weights([kernel])
        bn.set_weights(identity_batchnorm(bn, bias))
    model.get_layer("emotion").set_weights(list(w["emotion"]))
    freeze_batchnorm(model)
    _check_probe(model, path)
    return model


def identity_batchnorm(bn, beta: np.ndarray) -> list[np.ndarray]:
    """[gamma, beta, moving mean, moving variance] with which `bn` computes x + beta in inference:
    gamma 1, mean 0 and variance 1 - eps, so that sqrt(variance + eps) is 1."""
    ones = np.ones_like(beta, dtype=np.float32)
    variance = np.full_like(ones, np.float32(1.0) - np.float32(bn.epsilon))
    return [ones, beta.astype(np.float32), np.zeros_like(ones), variance]


def freeze_batchnorm(model) -> int:
    """Make every BatchNormalization untrainable (Keras 3 then runs it in inference mode, so
    the folded biases stay and the batch statistics never enter). Returns the number frozen."""
    import keras
    frozen = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    return frozen


def _check_probe(model, path: Path) -> None:
    """The rebuilt network and the float file answer a fixed random input alike."""
    from sernet_edge.interpreter import make_interpreter
    x = np.random.default_rng(0).standard_normal((1, *model.input_shape[1:])).astype(np.float32)
    interp = make_interpreter(path.read_bytes(), num_threads=1, origin=str(path))
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    expected = interp.get_tensor(interp.get_output_details()[0]["index"])
    got = np.asarray(model(x, training=False))
    if not np.allclose(got, expected, atol=PROBE_TOLERANCE, rtol=0):
        raise ModelError(f"{path}: the rebuilt network differs from the file by "
                         f"{np.abs(got - expected).max():.2g} on a probe input")

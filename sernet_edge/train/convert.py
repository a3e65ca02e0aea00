"""Keras -> TFLite: float32, float16, dynamic-range int8 and full int8, for one or more input
lengths, each file with its model card embedded, a parity report against the Keras model and,
for full int8, a TFLite Micro check and a C array for firmware.

TensorFlow is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from sernet_edge.card import METADATA_NAME, new_card, parse_card, read_card, sidecar_path
from sernet_edge.errors import ModelError, SernetError
from sernet_edge.features import FeatureConfig
from sernet_edge.interpreter import from_output, to_input
from sernet_edge.io import write_bytes, write_json, write_text
from sernet_edge.metrics import scores

PRECISIONS = ("float32", "float16", "dynamic-int8", "int8")
DEFAULT_PRECISIONS = ("float16", "int8")
INT8_POOLS = ("depthwise", "average")   # see xnnpack_pools.py
MAX_BYTES = 1_000_000            # every file must fit in 1 MB ...
SIZE_EXEMPT = ("float32",)       # ... except the float32 reference, which is reported instead
CALIBRATION_LIMIT = 200          # representative examples for full-int8 calibration
SAMPLE_SEED = 0                  # the calibration sample is the same on every run
MICRO_EXAMPLES = 3               # TFLite Micro's reference kernels are slow: a few examples
KERAS_BATCH = 32
CARD_PASSES = 4                  # file_bytes is inside the card: iterate until it is stable

Features = Callable[[FeatureConfig], np.ndarray]
Labelled = Callable[[FeatureConfig], tuple[np.ndarray, np.ndarray]]


# ---- the Keras model and its card ----

def load_keras(path, card_path=None):
    """(model, card, card_path) for `model.keras` and its card (`--card`, `<stem>.json` or the
    trainer's sibling `card.json`). ModelError with one line for anything unusable."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if not path.is_file():
        raise ModelError(f"{path}: not a file (expected a Keras .keras model)")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a Keras model (a .keras file is a zip archive)")
    card_file = find_card(path, card_path)
    card = parse_card(card_file.read_text(errors="replace"), str(card_file))
    import keras
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a damaged archive
        raise ModelError(f"{path}: cannot load the Keras model ({_first_line(e)})") from None
    check_card_fits(model, card, str(card_file))
    return model, card, card_file


def find_card(model_path: Path, card_path=None) -> Path:
    if card_path is not None:
        card_path = Path(card_path)
        if not card_path.is_file():
            raise ModelError(f"{card_path}: no such card file")
        return card_path
    candidates = [model_path.with_suffix(".json"), model_path.parent / "card.json"]
    for c in candidates:
        if c.is_file():
            return c
    raise ModelError(f"{model_path}: no model card beside it ({' or '.join(c.name for c in candidates)}); "
                     "pass --card FILE")


def check_card_fits(model, card: dict, origin: str) -> None:
    n_out = int(model.output_shape[-1])
    if n_out != len(card["labels"]):
        raise ModelError(f"{origin}: card has {len(card['labels'])} labels, the model {n_out} outputs")
    n_mfcc = FeatureConfig.from_dict(card["features"]).n_mfcc
    if tuple(model.input_shape[2:]) != (n_mfcc, 1):
        raise ModelError(f"{origin}: card says {n_mfcc} MFCCs, the model takes {model.input_shape[1:]}")


def features_for(card: dict, seconds: float) -> FeatureConfig:
    return dataclasses.replace(FeatureConfig.from_dict(card["features"]), seconds=float(seconds))


# ---- conversion ----

def inference_models(model, frames: int):
    """(body, fixed): the weights on a `frames`-long input without dropout/L2, and the same
    with a fixed batch of 1, so the .tflite input is exactly [1, frames, 40, 1]."""
    import keras
    from sernet_edge.train.model import with_input_frames
    body = with_input_frames(model, frames)
    inp = keras.Input(shape=tuple(body.input_shape[1:]), batch_size=1, name="mfcc")
    return body, keras.Model(inp, body(inp), name=f"light_sernet_{frames}")


def convert_keras(model, features: FeatureConfig, precision: str,
                  representative: np.ndarray | None = None) -> bytes:
    """The .tflite bytes of `model` at `features.input_shape`, batch 1, in `precision`.
    Full int8 is calibrated on `representative` (real features, (N, frames, n_mfcc, 1))."""
    import tensorflow as tf
    if precision not in PRECISIONS:
        raise SernetError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    if tuple(model.input_shape[1:]) != tuple(features.input_shape) or model.input_shape[0] != 1:
        _, model = inference_models(model, features.input_shape[0])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if precision == "int8":
        rep = check_features(representative, features, "calibration")
        conv.representative_dataset = lambda: ([x[None]] for x in rep)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
                _native_log_silenced():
            # Keras prints its SavedModel export; TF warns that int8 input has no given range
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            return bytes(conv.convert())
    except Exception as e:
        raise ModelError(f"TFLite conversion to {precision} failed ({_first_line(e)})") from None


@contextlib.contextmanager
def _native_log_silenced():
    """The converter's C++ code writes its log ("fully_quantize: 0, ...", MLIR passes) straight
    to file descriptor 2, past TF_CPP_MIN_LOG_LEVEL: hide it when that level asks for quiet
    (the CLI sets 3 unless --debug). Its errors still arrive as the exception."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_features(X, features: FeatureConfig, what: str) -> np.ndarray:
    if X is None or len(X) == 0:
        raise SernetError(f"empty {what} set: full int8 needs real features to calibrate on"
                          if what == "calibration" else f"empty {what} set")
    X = np.asarray(X, np.float32)
    if tuple(X.shape[1:]) != tuple(features.input_shape):
        raise SernetError(f"{what} features have shape {tuple(X.shape[1:])}, the "
                          f"{features.seconds:g} s model needs {tuple(features.input_shape)}")
    return X


def calibration_indices(n: int, limit: int = CALIBRATION_LIMIT, seed: int = SAMPLE_SEED) -> np.ndarray:
    """A deterministic, sorted sample of at most `limit` of `n` examples."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def held_out_indices(n: int, limit: int = CALIBRATION_LIMIT, seed: int = SAMPLE_SEED) -> np.ndarray:
    """The examples that `calibration_indices` leaves out."""
    return np.setdiff1d(np.arange(n), calibration_indices(n, limit, seed))


# ---- the converted file: tensors, ops, card ----

def tensor_details(model: bytes) -> dict:
    """{"input": {...}, "output": {...}}: shape, dtype, scale, zero_point read from LiteRT."""
    interp = _interpreter(model)
    return {"input": _tensor(interp.get_input_details()[0]),
            "output": _tensor(interp.get_output_details()[0])}


def _tensor(d: dict) -> dict:
    scale, zero_point = d["quantization"]
    return {"shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale), "zero_point": int(zero_point)}


def builtin_ops(model: bytes) -> list[str]:
    """Names of the builtin operators the model uses (what a TFLite Micro op resolver needs)."""
    from tensorflow.lite.python import schema_py_generated as fb
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    m = fb.Model.GetRootAsModel(model, 0)
    codes = [max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(m.OperatorCodesLength())]
    used = set()
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for o in range(sg.OperatorsLength()):
            used.add(names.get(codes[sg.Operators(o).OpcodeIndex()], "CUSTOM"))
    return sorted(used)


def add_card(model: bytes, card: dict) -> bytes:
    """`model` with `card` as JSON in the TFLite metadata entry METADATA_NAME (replaced if present)."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils
    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    data = np.frombuffer(card_json(card).encode("utf-8"), dtype=np.uint8)
    for entry in obj.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_NAME:
            obj.buffers[entry.buffer].data = data
            break
    else:
        buf = fb.BufferT()
        buf.data = data
        obj.buffers.append(buf)
        entry = fb.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(obj.buffers) - 1
        obj.metadata = [*(obj.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def card_json(card: dict) -> str:
    return json.dumps(card, indent=None, separators=(",", ":"), sort_keys=False)


def finish_file(model: bytes, card: dict, origin: str) -> tuple[bytes, dict]:
    """Embed `card` (with weights_sha256 and file_bytes filled in) and check it reads back."""
    from sernet_edge.tflite_file import read_model, weights_sha256
    digest = weights_sha256(read_model(model))
    card = {**card, "weights_sha256": digest, "file_bytes": len(model)}
    for _ in range(CARD_PASSES):
        out = add_card(model, card)
        if len(out) == card["file_bytes"]:
            break
        card = {**card, "file_bytes": len(out)}
    else:
        raise ModelError(f"{origin}: file size did not settle while embedding the card")
    if weights_sha256(read_model(out)) != digest:
        raise ModelError(f"{origin}: embedding the card changed the weights")
    if read_card(origin, out) != json.loads(card_json(card)):
        raise ModelError(f"{origin}: the embedded card does not read back unchanged")
    return out, card


# ---- running the converted file ----

def _interpreter(model: bytes, builtin_kernels: bool = False):
    """LiteRT as the device runtime uses it (XNNPACK delegate), or with only its builtin
    kernels, whose integer arithmetic TFLite Micro shares."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from sernet_edge.interpreter import _without_native_info
    resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if builtin_kernels else OpResolverType.AUTO
    try:
        with _without_native_info():     # LiteRT's "INFO: Created ... XNNPACK delegate" line
            interp = Interpreter(model_content=bytes(model), num_threads=1,
                                 experimental_op_resolver_type=resolver)
            interp.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        raise ModelError(f"LiteRT cannot load the converted model ({_first_line(e)})") from None
    return interp


def run_tflite(model: bytes, X: np.ndarray, builtin_kernels: bool = False) -> dict:
    """Run every example through LiteRT. {"probs": (N, C) float, "raw_inputs", "raw_outputs"}:
    the raw arrays are in the tensors' own dtype (int8 for full int8)."""
    interp = _interpreter(model, builtin_kernels)
    din, dout = interp.get_input_details()[0], interp.get_output_details()[0]
    raw_in, raw_out, probs = [], [], []
    for x in np.asarray(X, np.float32):
        xin = to_input(x, din)
        interp.set_tensor(din["index"], xin)
        interp.invoke()
        y = interp.get_tensor(dout["index"]).reshape(-1).copy()
        raw_in.append(xin)
        raw_out.append(y)
        probs.append(from_output(y, dout))
    n_out = int(np.prod(dout["shape"]))
    return {"probs": np.stack(probs) if probs else np.zeros((0, n_out), np.float32),
            "raw_inputs": np.stack(raw_in) if raw_in else np.zeros((0, *din["shape"]), din["dtype"]),
            "raw_outputs": np.stack(raw_out) if raw_out else np.zeros((0, n_out), dout["dtype"])}


def evaluate_tflite(model: bytes, X: np.ndarray, y: np.ndarray, labels) -> dict:
    """UAR/WA/F1 of the converted file on (X, y), with its predictions and probabilities."""
    run = run_tflite(model, X)
    pred = run["probs"].argmax(axis=1)
    return {**scores(y, pred, list(labels)), "pred": pred, "probs": run["probs"]}


def keras_predict(model, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(X, np.float32), batch_size=KERAS_BATCH, verbose=0))


def parity(result: dict, keras_pred: np.ndarray, keras_uar: float) -> dict:
    agree = float(np.mean(result["pred"] == keras_pred)) if len(keras_pred) else 0.0
    return {"eval_items": int(len(keras_pred)), "agreement_with_keras": agree,
            "uar": result["uar"], "wa": result["wa"], "keras_uar": keras_uar}


# ---- the whole job ----

@dataclasses.dataclass
class _Built:
    seconds: float
    precision: str
    stem: str
    model: bytes
    card: dict
    eval: dict | None = None
    micro: dict | None = None
    pools: str | None = None       # int8 only: how average pooling is written


def file_stem(name: str, seconds: float, precision: str) -> str:
    return f"{name}-{seconds:g}s-{precision}"


def export(model, card: dict, out_dir, precisions=DEFAULT_PRECISIONS, seconds_list=None,
           calibration: np.ndarray | Features | None = None,
           evaluation: tuple[np.ndarray, np.ndarray] | Labelled | None = None,
           name: str = "sernet-edge", max_bytes: int = MAX_BYTES, c_array: bool = False,
           micro_check: bool | None = None, calibration_limit: int = CALIBRATION_LIMIT,
           provenance: dict | None = None, log=None, int8_pools: str | None = None) -> list[Path]:
    """Convert the Keras `model` (described by its `card`) to every precision and input length,
    check sizes, parity and TFLite Micro, then write `<name>-<s>s-<precision>.tflite` + `.json`
    (and `_model_data.c/.h` for --c-array) into `out_dir`. Nothing is written unless every file
    passes. `calibration` and `evaluation` are arrays (one input length) or functions of the
    FeatureConfig. `int8_pools`: 'depthwise' (XNNPACK runs the whole int8 graph: fast on CPUs)
    or 'average' (smallest TFLite Micro arena); default depthwise, average with `c_array`.
    Returns the written paths."""
    from sernet_edge.train.model import architecture
    log = log or (lambda msg: None)
    int8_pools = int8_pools or ("average" if c_array else "depthwise")
    if int8_pools not in INT8_POOLS:
        raise SernetError(f"unknown int8 pooling {int8_pools!r} (use {', '.join(INT8_POOLS)})")
    precisions = _check_precisions(precisions)
    seconds_list = _check_seconds(seconds_list, card)
    if c_array and "int8" not in precisions:
        raise SernetError("--c-array exports the full-int8 model: add int8 to --precision")
    micro_check = _micro_wanted(micro_check, precisions)
    labels = card["labels"]
    out_dir = Path(out_dir)

    built: list[_Built] = []
    for seconds in seconds_list:
        cfg = features_for(card, seconds)
        body, fixed = inference_models(model, cfg.input_shape[0])
        rep = None
        if "int8" in precisions:
            X_cal = check_features(_call(calibration, cfg), cfg, "calibration")
            rep = X_cal[calibration_indices(len(X_cal), calibration_limit)]
        ev = _evaluation(evaluation, cfg)
        keras_pred = keras_uar = None
        if ev is not None:
            keras_pred = keras_predict(body, ev[0]).argmax(axis=1)
            keras_uar = scores(ev[1], keras_pred, labels)["uar"]
        for precision in precisions:
            stem = file_stem(name, seconds, precision)
            log(f"{stem}: converting")
            data = convert_keras(fixed, cfg, precision, rep)
            if precision == "int8" and int8_pools == "depthwise":
                from sernet_edge.train.xnnpack_pools import depthwise_pools
                data = depthwise_pools(data, stem)
            _check_size(stem, precision, len(data), max_bytes)
            b = _Built(seconds, precision, stem, data, {},
                       pools=int8_pools if precision == "int8" else None)
            if ev is not None:
                b.eval = evaluate_tflite(data, ev[0], ev[1], labels)
                b.eval["parity"] = parity(b.eval, keras_pred, keras_uar)
            if precision == "int8" and micro_check:
                b.micro = _micro(data, ev[0] if ev is not None else rep, stem)
            b.card = _card(card, cfg, precision, data, b, rep, max_bytes, provenance,
                           architecture(model))
            built.append(b)
    _uar_loss(built)

    files: list[tuple[Path, object]] = []
    for b in built:
        path = out_dir / f"{b.stem}.tflite"
        b.model, b.card = finish_file(b.model, b.card, str(path))
        _check_size(b.stem, b.precision, len(b.model), max_bytes)
        if b.precision in SIZE_EXEMPT and len(b.model) > max_bytes:
            log(f"{b.stem}: {len(b.model):,} bytes, over the {max_bytes:,}-byte limit "
                "(allowed: float32 is the reference)")
        files += [(path, b.model), (sidecar_path(path), b.card)]
        if c_array and b.precision == "int8":
            from sernet_edge.c_array import c_array_files, c_header_name, c_source_name
            header, source = c_array_files(b.model, b.stem, b.card)
            files += [(out_dir / c_header_name(b.stem), header), (out_dir / c_source_name(b.stem), source)]
    for path, content in files:
        if isinstance(content, bytes):
            write_bytes(path, content)
        elif isinstance(content, dict):
            write_json(path, content)
        else:
            write_text(path, content)
    return [p for p, _ in files]


def _check_precisions(precisions) -> list[str]:
    out = []
    for p in precisions:
        if p not in PRECISIONS:
            raise SernetError(f"unknown precision {p!r} (use {', '.join(PRECISIONS)})")
        if p not in out:
            out.append(p)
    if not out:
        raise SernetError("no precision asked for")
    return out


def _check_seconds(seconds_list, card) -> list[float]:
    seconds_list = list(seconds_list or [FeatureConfig.from_dict(card["features"]).seconds])
    for s in seconds_list:
        if not s > 0:
            raise SernetError(f"--seconds must be positive, got {s:g}")
    return list(dict.fromkeys(float(s) for s in seconds_list))


def _micro_wanted(micro_check, precisions) -> bool:
    from sernet_edge.train.micro import micro_available
    if "int8" not in precisions:
        return False
    if micro_check is None:
        return micro_available()
    if micro_check and not micro_available():
        from sernet_edge.extras import missing
        raise missing("tflite_micro", "convert --micro-check")
    return bool(micro_check)


def _call(source, cfg):
    return source(cfg) if callable(source) else source


def _evaluation(evaluation, cfg):
    if evaluation is None:
        return None
    X, y = _call(evaluation, cfg)
    X = check_features(X, cfg, "evaluation")
    y = np.asarray(y, np.int64)
    if len(y) != len(X):
        raise SernetError(f"evaluation set has {len(X)} inputs but {len(y)} labels")
    return X, y


def _check_size(stem: str, precision: str, size: int, max_bytes: int) -> None:
    if precision not in SIZE_EXEMPT and size > max_bytes:
        raise SernetError(f"{stem}.tflite would be {size:,} bytes, over the {max_bytes:,}-byte limit "
                          f"(only {', '.join(SIZE_EXEMPT)} may exceed it)")


def _micro(data: bytes, X: np.ndarray, stem: str) -> dict:
    """TFLite Micro on the first few evaluation (else calibration) examples."""
    from sernet_edge.train.micro import micro_check
    X = X[:MICRO_EXAMPLES]
    delegated = run_tflite(data, X)
    builtin = run_tflite(data, X, builtin_kernels=True)
    return micro_check(data, builtin["raw_inputs"], builtin["raw_outputs"], name=f"{stem}.tflite",
                       delegated=delegated["raw_outputs"])


def _card(keras_card, cfg, precision, data, b: _Built, rep, max_bytes, provenance,
          arch: dict) -> dict:
    import tensorflow as tf
    t = tensor_details(data)
    conversion = {"tensorflow": tf.__version__, "max_bytes": max_bytes,
                  "size_exempt": precision in SIZE_EXEMPT, **(provenance or {})}
    if precision == "int8":
        conversion["calibration_examples"] = int(len(rep))
        conversion["int8_pools"] = b.pools
    return new_card(
        keras_card["labels"], cfg, precision,
        source=with_heard(keras_card), metrics=keras_card.get("metrics"),
        training=keras_card.get("training"),
        input={"seconds": cfg.seconds, **t["input"]}, output=t["output"],
        ops=builtin_ops(data), parity=b.eval["parity"] if b.eval else None, micro=b.micro,
        conversion=conversion, architecture=arch)


def with_heard(keras_card: dict) -> dict | None:
    """The card's `source`, with `heard` (every speaker the weights heard: heard.py) filled in
    where a card from before it lacks it but says whom it was trained on."""
    from sernet_edge import heard
    source = keras_card.get("source")
    if not isinstance(source, dict) or "heard" in source:
        return source
    known = heard.describe(heard.trained_on(keras_card))
    return source if known is None else {**source, "heard": known}


def _uar_loss(built: list[_Built]) -> None:
    """int8 UAR loss against float32 of the same input length (the Keras model if no float32)."""
    for b in built:
        if b.precision != "int8" or not b.eval:
            continue
        ref = next((o for o in built if o.precision == "float32" and o.seconds == b.seconds and o.eval), None)
        ref_uar, ref_name = (ref.eval["uar"], "float32") if ref else (b.eval["parity"]["keras_uar"], "keras")
        b.card["parity"] = {**b.card["parity"], "uar_loss_vs_float32": ref_uar - b.eval["uar"],
                            "uar_loss_reference": ref_name}


def _first_line(e: Exception) -> str:
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(e).__name__


# ---- corpora as feature sources (used by the CLI) ----

def corpus_features(corpus, labels, cache_dir=None) -> Labelled:
    """cfg -> (X, y) for the corpus items whose label the model knows, y in the model's order."""
    from sernet_edge.corpora import Corpus
    from sernet_edge.train.dataset import load_features
    known = [it for it in corpus.items if it.label in labels]
    if not known:
        raise SernetError(f"{corpus.root}: none of its labels ({', '.join(corpus.labels)}) "
                          f"is a label of the model ({', '.join(labels)})")
    sub = Corpus(corpus.name, corpus.root, list(labels), known)

    def load(cfg: FeatureConfig):
        X, y, _ = load_features(sub, cfg, cache_dir)
        return X, y
    return load

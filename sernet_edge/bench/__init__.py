"""Benchmarks of .tflite models without TensorFlow.

graph.py counts from the file itself (parameters, MACs, FLOPs, peak live activations),
timing.py measures (front end, invoke, end to end, process memory, TFLite Micro arena),
report.py prints and writes the results. This module holds the file and interpreter loading
they share.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sernet_edge.errors import ModelError
from sernet_edge.interpreter import interpreter_class, resize_input


def runtime_version() -> str:
    """'ai-edge-litert 2.3.0' or 'tflite-runtime 2.14.0': what the timings ran on."""
    from importlib import metadata
    _, package = interpreter_class()
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


def read_model_file(path) -> bytes:
    """The bytes of a .tflite file, with one-line errors for a missing or non-TFLite file."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a model file")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read it ({e.strerror or e})") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite model (missing the TFL3 identifier)")
    return data


def plain_interpreter(model: bytes, origin: str | Path, input_shape=None):
    """An interpreter without the default XNNPACK delegate: its node list is the file's
    operators in execution order (a delegate would collapse them into one node). Not allocated,
    unless `input_shape` resizes the input: then allocated, so every tensor has its new shape."""
    cls, _ = interpreter_class()
    resolver = sys.modules[cls.__module__].OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interp = cls(model_content=model, experimental_op_resolver_type=resolver)
        if input_shape is not None:
            resize_input(interp, input_shape)
            interp.allocate_tensors()
        return interp
    except (ValueError, RuntimeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{origin}: the TFLite interpreter cannot load it ({reason})") from None

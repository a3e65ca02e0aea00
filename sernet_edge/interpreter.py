"""The TFLite interpreter, from LiteRT (`ai-edge-litert`) or the older `tflite-runtime`.

Never TensorFlow: the device side must not pay 1.8 s and 500 MB to import it.
`tflite-runtime` 2.14 is the last release: numpy<2 only, no wheels for Python 3.12+, and it
rejects the FULLY_CONNECTED v12 op that TF 2.21 writes into dynamic-int8 files.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import numpy as np

from sernet_edge.errors import AudioError, ModelError, SernetError


def interpreter_class():
    """(Interpreter class, package name) of the first interpreter that imports."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter, "tflite-runtime"
    except ImportError:
        raise SernetError("no TFLite interpreter installed: pip install ai-edge-litert") from None


def make_interpreter(model_bytes: bytes, num_threads: int | None = None, origin: str = "model",
                     input_shape=None):
    """An allocated interpreter; `input_shape` resizes the input first (a fully convolutional
    model then runs on a longer or shorter window than the file was written for)."""
    check_threads(num_threads)
    Interpreter, _ = interpreter_class()
    try:
        with _without_native_info():
            interp = Interpreter(model_content=model_bytes, num_threads=num_threads)
            if input_shape is not None:
                resize_input(interp, input_shape)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{origin}: the interpreter cannot load this model ({first})") from None
    return interp


def resize_input(interp, input_shape) -> None:
    """Give the first input tensor a new shape (before `allocate_tensors`)."""
    index = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(index, [int(d) for d in input_shape], strict=False)


def check_threads(num_threads) -> None:
    """None (the interpreter's default) or a positive count; anything else is the caller's
    mistake, not the model's (LiteRT says only that it cannot create the interpreter)."""
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) \
            or num_threads < 1:
        raise SernetError(f"threads must be a positive whole number, got {num_threads!r}")


def to_input(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float features as the input tensor wants them: quantised with its own scale and zero
    point when it is an integer tensor, and in its shape. NaN or infinity never reaches the
    interpreter: casting NaN to int8 gives an arbitrary number (numpy only warns), and a float
    model passes it straight through to the probabilities."""
    x = np.asarray(x, np.float32).reshape(detail["shape"])
    if not np.all(np.isfinite(x)):
        raise AudioError("model input contains NaN or infinite values (the audio or its "
                         "features were not finite)")
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        x = np.divide(x, np.float32(scale))       # one new array, then in place: same numbers
        np.round(x, out=x)
        x += np.float32(zero)
        np.clip(x, info.min, info.max, out=x)
    return x.astype(detail["dtype"])


def from_output(y: np.ndarray, detail: dict) -> np.ndarray:
    """An output tensor as float32, dequantised when it is an integer tensor."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        return (y.astype(np.float32) - zero) * np.float32(scale)
    return y.astype(np.float32)


@contextlib.contextmanager
def _without_native_info():
    """Drop the C++ runtime's "INFO: Created ... delegate" lines; pass anything else through."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # stderr replaced (pytest capture, notebooks)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith("INFO: "):
                    sys.stderr.write(line)

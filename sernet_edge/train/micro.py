"""Microcontroller side of the converter: run a full-int8 model under TFLite Micro on the host
(the C source/header pair for a firmware build is sernet_edge/c_array.py).

No TensorFlow here: the check uses the `tflite_micro` package (TFLite Micro's reference kernels
compiled for the host), which also reports how much tensor arena the model really needs.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

import numpy as np

from sernet_edge.errors import ModelError

HOST_ARENA_BYTES = 8 * 1024 * 1024   # generous arena for the host run; the used part is measured
ARENA_LINE = re.compile(r"Arena allocation total (\d+) bytes")
MAX_STEP_DIFF = 1                    # TFLM reference kernels vs LiteRT: at most one int8 step apart


def micro_available() -> bool:
    try:
        import tflite_micro  # noqa: F401
    except ImportError:
        return False
    return True


# ---- TFLite Micro check ----

def micro_run(model: bytes, inputs: np.ndarray, name: str = "model") -> dict:
    """Run int8 `inputs` (N, ...) one by one under TFLite Micro.

    Returns {"outputs": (N, classes) int8, "arena_bytes": int, "version": str}. ModelError if
    TFLite Micro cannot load the model (an unsupported op, a float tensor) or run it."""
    import tflite_micro
    from tflite_micro import runtime
    try:
        interp = runtime.Interpreter.from_bytes(bytes(model), arena_size=HOST_ARENA_BYTES)
    except (RuntimeError, ValueError) as e:
        raise ModelError(f"{name}: TFLite Micro cannot load the model ({_first_line(e)})") from None
    detail = interp.get_input_details(0)
    if np.dtype(detail["dtype"]) != np.int8:
        raise ModelError(f"{name}: TFLite Micro input is {np.dtype(detail['dtype'])}, not int8")
    outputs = []
    try:
        for x in inputs:
            interp.set_input(np.asarray(x, np.int8).reshape(detail["shape"]), 0)
            interp.invoke()
            outputs.append(np.array(interp.get_output(0)).reshape(-1))
    except (RuntimeError, ValueError) as e:
        raise ModelError(f"{name}: TFLite Micro failed to run the model ({_first_line(e)})") from None
    report = _capture_stderr(interp.print_allocations)
    match = ARENA_LINE.search(report)
    if not match:
        raise ModelError(f"{name}: TFLite Micro did not report its arena use")
    return {"outputs": np.stack(outputs) if outputs else np.zeros((0, 0), np.int8),
            "arena_bytes": int(match.group(1)), "version": str(tflite_micro.__version__)}


def micro_check(model: bytes, inputs: np.ndarray, reference: np.ndarray, name: str = "model",
                delegated: np.ndarray | None = None) -> dict:
    """TFLite Micro must run the model and agree within MAX_STEP_DIFF quantisation steps with
    `reference`: LiteRT's int8 outputs from its builtin kernels, the same integer arithmetic.
    `delegated` (LiteRT with its default XNNPACK delegate, which rounds differently) is only
    reported. Returns the card's "micro" entry."""
    run = micro_run(model, inputs, name)
    worst = _step_diff(run["outputs"], reference)
    if worst > MAX_STEP_DIFF:
        raise ModelError(f"{name}: TFLite Micro output differs from LiteRT by {worst} int8 steps "
                         f"(allowed {MAX_STEP_DIFF})")
    out = {"runtime": f"tflite_micro {run['version']} (host, reference kernels)",
           "arena_bytes": run["arena_bytes"], "checked_examples": int(len(inputs)),
           "max_step_diff_vs_litert": worst}
    if delegated is not None:
        out["max_step_diff_vs_litert_xnnpack"] = _step_diff(run["outputs"], delegated)
    return out


def _step_diff(a: np.ndarray, b: np.ndarray) -> int:
    a = np.asarray(a, np.int32)
    diff = np.abs(a - np.asarray(b, np.int32).reshape(a.shape))
    return int(diff.max()) if diff.size else 0


def _capture_stderr(fn) -> str:
    """What `fn` writes to file descriptor 2 (TFLite Micro prints from C++, not via sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        try:
            os.dup2(tmp.fileno(), 2)
            fn()
        finally:
            with contextlib.suppress(Exception):
                import ctypes
                ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode("utf-8", "replace")


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__

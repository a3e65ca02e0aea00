"""Microcontroller side of the converter: run a full-int8 model under TFLite Micro on the host,
and write it as a C source/header pair for a firmware build.

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
C_ALIGNMENT = 16                     # TFLM wants the flatbuffer 16-byte aligned
BYTES_PER_LINE = 12


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


# ---- C array export ----

def c_identifier(name: str) -> str:
    """`sernet-edge-3s-int8` -> `sernet_edge_3s_int8` (a valid, lower-case C identifier)."""
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_").lower() or "model"
    return f"m_{ident}" if ident[0].isdigit() else ident


def c_string(text: str) -> str:
    out = text.encode("utf-8").decode("ascii", "backslashreplace")
    return '"' + out.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_float(value: float) -> str:
    """A float literal that reads back as exactly the float32 `value`."""
    return f"{float(np.float32(value))!r}f"


def c_array_files(model: bytes, name: str, card: dict) -> tuple[str, str]:
    """(header text, source text) for `<name>_model_data.h/.c`: the model bytes as an aligned
    const array, its length, the labels and the input/output quantisation as #defines."""
    ident = c_identifier(name)
    macro = ident.upper()
    guard = f"{macro}_MODEL_DATA_H_"
    labels = card["labels"]
    inp, out = card["input"], card["output"]
    shape = inp["shape"]
    defines = [
        (f"{macro}_INPUT_FRAMES", str(shape[1]), "MFCC frames (time)"),
        (f"{macro}_INPUT_COEFFS", str(shape[2]), "MFCC coefficients per frame"),
        (f"{macro}_INPUT_SCALE", c_float(inp["scale"]), "real = scale * (q - zero_point)"),
        (f"{macro}_INPUT_ZERO_POINT", str(int(inp["zero_point"])), ""),
        (f"{macro}_OUTPUT_SCALE", c_float(out["scale"]), "probability = scale * (q - zero_point)"),
        (f"{macro}_OUTPUT_ZERO_POINT", str(int(out["zero_point"])), ""),
        (f"{macro}_NUM_LABELS", str(len(labels)), ""),
    ]
    arena = (card.get("micro") or {}).get("arena_bytes")
    if arena:
        defines.append((f"{macro}_ARENA_BYTES", str(int(arena)),
                        "measured by TFLite Micro on the host; add a margin on the device"))
    lines = [f"/* {name}: Light-SERNet full-int8 model for TensorFlow Lite Micro.",
             " * Generated by `sernet-edge convert --c-array`; do not edit.",
             f" * Input: int8 [1, {shape[1]}, {shape[2]}, 1] MFCC ({inp['seconds']} s), "
             "front end as sernet_edge/features.py.",
             f" * weights sha256: {card.get('weights_sha256', '?')} */",
             f"#ifndef {guard}", f"#define {guard}", ""]
    for key, value, note in defines:
        lines.append(f"#define {key} {value}" + (f"  /* {note} */" if note else ""))
    lines += ["", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
              f"extern const unsigned char {ident}_model_data[];",
              f"extern const unsigned int {ident}_model_data_len;",
              f"extern const char *const {ident}_labels[{macro}_NUM_LABELS];",
              "", "#ifdef __cplusplus", "}", "#endif", "", f"#endif  /* {guard} */", ""]
    header = "\n".join(lines)

    body = [f"/* {name}: generated by `sernet-edge convert --c-array`; do not edit. */",
            f'#include "{c_header_name(name)}"', "",
            "#if defined(__cplusplus)",
            f"#define {macro}_ALIGNED alignas({C_ALIGNMENT})",
            "#else",
            "#include <stdalign.h>",
            f"#define {macro}_ALIGNED alignas({C_ALIGNMENT})",
            "#endif", "",
            f"const char *const {ident}_labels[{macro}_NUM_LABELS] = {{",
            *(f"    {c_string(label)}," for label in labels), "};", "",
            f"{macro}_ALIGNED const unsigned char {ident}_model_data[] = {{"]
    data = bytes(model)
    for start in range(0, len(data), BYTES_PER_LINE):
        chunk = data[start:start + BYTES_PER_LINE]
        body.append("    " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    body += ["};", "", f"const unsigned int {ident}_model_data_len = {len(data)}u;", ""]
    return header, "\n".join(body)


def c_header_name(name: str) -> str:
    return f"{name}_model_data.h"


def c_source_name(name: str) -> str:
    return f"{name}_model_data.c"

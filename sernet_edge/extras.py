"""The optional parts of sernet-edge (pip extras) and the one way a command says it needs one.

Every command that needs an extra that is not installed stops with one line and exit code 2,
as `listen` does without `[mic]`:

    error: TensorFlow is not installed: train needs the [train] extra: pip install '.[train]' in the sernet-edge folder

`require` checks before the work starts (a command that would fail after minutes of features
checks first); the CLI's error handler turns any other missing module of an extra (below) into
the same line, so no command ends in "internal error: ModuleNotFoundError". The README's install
table lists every extra of pyproject.toml (a test keeps them equal).
"""

from __future__ import annotations

import importlib

from sernet_edge.errors import SernetError

# top-level module -> (extra, what to call it in a message)
MODULES = {
    "tensorflow": ("train", "TensorFlow"),
    "keras": ("train", "TensorFlow (Keras)"),
    "tf_keras": ("train", "TensorFlow (Keras)"),
    "matplotlib": ("plot", "matplotlib"),
    "sounddevice": ("mic", "sounddevice"),
    "webrtcvad": ("vad", "WebRTC VAD"),
    "tflite_micro": ("micro", "tflite-micro"),
}


def hint(extra: str) -> str:
    """How to install `extra`, as every message says it."""
    return f"the [{extra}] extra: pip install '.[{extra}]' in the sernet-edge folder"


def extra_for(module: str | None) -> str | None:
    """The extra that installs `module` (or a submodule of it); None for other modules."""
    top = (module or "").split(".")[0]
    return MODULES[top][0] if top in MODULES else None


def message(module: str, what: str | None = None) -> str:
    """`<package> is not installed: <what> needs the [x] extra: pip install ...` for a missing
    `module` (without `what`: `... is not installed: the [x] extra: ...`, as `listen` says it)."""
    extra, package = MODULES[module.split(".")[0]]
    return f"{package} is not installed: {what + ' needs ' if what else ''}{hint(extra)}"


def missing(module: str, what: str | None = None) -> SernetError:
    """The one-line error (exit 2) for a missing `module` of an extra."""
    return SernetError(message(module, what))


def require(module: str, what: str) -> None:
    """Import `module` (of an extra) or raise the one-line error naming its extra. `what` is
    what needs it ("train", "classify --plot"); a module that is there but fails to import
    (a broken install) gets the same advice."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise missing(module, what) from None

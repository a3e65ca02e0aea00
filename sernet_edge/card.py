"""The model card: what a model needs to be used right, carried inside the .tflite file.

Written by the converter into the TFLite metadata entry `sernet_edge_card` and beside the
model as `<model>.json`; read and checked against the interpreter's tensors by the runtime.
`source` names the training corpora and speakers; `source.heard` (cards since issue 48) every
speaker the weights heard, a start model's included: what `evaluate` marks (heard.py).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from sernet_edge import __version__
from sernet_edge.errors import ModelError
from sernet_edge.features import FeatureConfig

METADATA_NAME = "sernet_edge_card"
FORMAT = "sernet-edge-card/1"
PRECISIONS = ("keras", "float32", "float16", "dynamic-int8", "int8")
REQUIRED = ("format", "labels", "features", "precision")


def new_card(labels, features: FeatureConfig, precision: str, source=None, metrics=None,
             training=None, **extra) -> dict:
    return {
        "format": FORMAT,
        "labels": list(labels),
        "features": features.to_dict(),
        "input": {"seconds": features.seconds, "shape": [1, *features.input_shape]},
        "precision": precision,
        "source": source or {},
        "metrics": metrics or {},
        "training": training or {},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sernet_edge_version": __version__,
        **extra,
    }


def parse_card(text: bytes | str, origin: str) -> dict:
    try:
        card = json.loads(text)
    except (ValueError, UnicodeError) as e:
        raise ModelError(f"{origin}: model card is not valid JSON ({e})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{origin}: model card is not a JSON object")
    missing = [k for k in REQUIRED if k not in card]
    if missing:
        raise ModelError(f"{origin}: model card lacks {', '.join(missing)}")
    if card["format"] != FORMAT:
        raise ModelError(f"{origin}: unknown model card format {card['format']!r}")
    if not card["labels"] or not all(isinstance(x, str) for x in card["labels"]):
        raise ModelError(f"{origin}: model card has no labels")
    if card["precision"] not in PRECISIONS:
        raise ModelError(f"{origin}: unknown precision {card['precision']!r}")
    try:
        FeatureConfig.from_dict(card["features"])
    except (TypeError, ValueError) as e:
        raise ModelError(f"{origin}: model card has bad feature settings ({e})") from None
    return card


def feature_config(card: dict) -> FeatureConfig:
    return FeatureConfig.from_dict(card["features"])


def sidecar_path(model_path) -> Path:
    return Path(model_path).with_suffix(".json")


def read_card(model_path, model_bytes: bytes | None = None) -> dict:
    """The card embedded in a .tflite file, else its JSON sidecar; ModelError if neither."""
    from sernet_edge.tflite_file import read_model
    path = Path(model_path)
    data = model_bytes if model_bytes is not None else path.read_bytes()
    meta = read_model(data, str(path))["metadata"]
    if METADATA_NAME in meta:
        return parse_card(meta[METADATA_NAME], str(path))
    side = sidecar_path(path)
    if side.exists():
        return parse_card(side.read_text(), str(side))
    raise ModelError(f"{path}: no model card (neither embedded nor {side.name}); "
                     "convert it with `sernet-edge convert` to add one")

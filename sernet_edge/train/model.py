"""Light-SERNet (Aftab et al., ICASSP 2022) as a Keras model, at any width.

Input is the MFCC image (frames, 40, 1), time first. Kernels are written (time, frequency):
the paper's "9x1 frequency" path is (1, 9) here and its "1x11 time" path is (11, 1).
`width` scales every filter count (1.0 is the paper's network): the layers, kernels and pools
stay the same, so every width converts, runs and exports to C alike.
"""

from __future__ import annotations

import keras
from keras import layers, regularizers

BODY1_KERNELS = ((11, 1), (1, 9), (3, 3))   # time path, frequency path, local path
BODY1_FILTERS = 32
LFLB_FILTERS = (64, 96, 128, 160)
LFLB_POOLS = ((2, 2), (2, 2), (2, 1), (2, 1))
FINAL_FILTERS = 320


def filter_counts(width: float = 1.0) -> tuple[int, ...]:
    """(body I per path, LFLB 1-4, final 1x1) filters at `width`, at least one each."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return tuple(max(1, int(round(f * width)))
                 for f in (BODY1_FILTERS, *LFLB_FILTERS, FINAL_FILTERS))


def build_model(input_shape=(184, 40, 1), n_classes: int = 7, l2: float = 1e-6,
                dropout: float = 0.3, width: float = 1.0,
                filters: tuple[int, ...] | None = None) -> keras.Model:
    """`filters` (as `filter_counts` gives them) overrides `width`."""
    body1, *lflb, final = filters or filter_counts(width)
    reg = regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=tuple(input_shape), name="mfcc")

    paths = []
    for i, kernel in enumerate(BODY1_KERNELS):
        x = layers.Conv2D(body1, kernel, padding="same", kernel_regularizer=reg,
                          name=f"path{i + 1}_conv")(inputs)
        x = layers.BatchNormalization(name=f"path{i + 1}_bn")(x)
        x = layers.ReLU(name=f"path{i + 1}_relu")(x)
        paths.append(layers.AveragePooling2D((2, 2), padding="same", name=f"path{i + 1}_pool")(x))
    x = layers.Concatenate(axis=-1, name="concat")(paths)

    for i, (n, pool) in enumerate(zip(lflb, LFLB_POOLS)):
        x = layers.Conv2D(n, (3, 3), padding="same", use_bias=False, kernel_regularizer=reg,
                          name=f"lflb{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"lflb{i + 1}_bn")(x)
        x = layers.ReLU(name=f"lflb{i + 1}_relu")(x)
        x = layers.AveragePooling2D(pool, padding="same", name=f"lflb{i + 1}_pool")(x)

    x = layers.Conv2D(final, (1, 1), padding="same", use_bias=False, kernel_regularizer=reg,
                      name="final_conv")(x)
    x = layers.BatchNormalization(name="final_bn")(x)
    x = layers.ReLU(name="final_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="light_sernet")


def model_filters(model: keras.Model) -> tuple[int, ...]:
    """The filter counts a built Light-SERNet has (its width, as `filter_counts` writes it)."""
    names = ["path1_conv", *(f"lflb{i + 1}_conv" for i in range(len(LFLB_FILTERS))), "final_conv"]
    return tuple(int(model.get_layer(n).filters) for n in names)


def architecture(model: keras.Model) -> dict:
    """What a card says of the network: its name, width, filter counts and parameters."""
    filters = model_filters(model)
    return {"name": "Light-SERNet", "width": round(filters[0] / BODY1_FILTERS, 4),
            "filters": list(filters), "parameters": int(model.count_params())}


def with_input_frames(model: keras.Model, frames: int) -> keras.Model:
    """The same weights on another input length (the network is fully convolutional)."""
    shape = (frames,) + tuple(model.input_shape[2:])
    n_classes = model.output_shape[-1]
    clone = build_model(shape, n_classes, dropout=0.0, l2=0.0, filters=model_filters(model))
    clone.set_weights(model.get_weights())
    return clone

"""Light-SERNet (Aftab et al., ICASSP 2022) as a Keras model.

Input is the MFCC image (frames, 40, 1), time first. Kernels are written (time, frequency):
the paper's "9x1 frequency" path is (1, 9) here and its "1x11 time" path is (11, 1).
"""

from __future__ import annotations

import keras
from keras import layers, regularizers

BODY1_KERNELS = ((11, 1), (1, 9), (3, 3))   # time path, frequency path, local path
BODY1_FILTERS = 32
LFLB_FILTERS = (64, 96, 128, 160)
LFLB_POOLS = ((2, 2), (2, 2), (2, 1), (2, 1))
FINAL_FILTERS = 320


def build_model(input_shape=(184, 40, 1), n_classes: int = 7, l2: float = 1e-6,
                dropout: float = 0.3) -> keras.Model:
    reg = regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=tuple(input_shape), name="mfcc")

    paths = []
    for i, kernel in enumerate(BODY1_KERNELS):
        x = layers.Conv2D(BODY1_FILTERS, kernel, padding="same", kernel_regularizer=reg,
                          name=f"path{i + 1}_conv")(inputs)
        x = layers.BatchNormalization(name=f"path{i + 1}_bn")(x)
        x = layers.ReLU(name=f"path{i + 1}_relu")(x)
        paths.append(layers.AveragePooling2D((2, 2), padding="same", name=f"path{i + 1}_pool")(x))
    x = layers.Concatenate(axis=-1, name="concat")(paths)

    for i, (filters, pool) in enumerate(zip(LFLB_FILTERS, LFLB_POOLS)):
        x = layers.Conv2D(filters, (3, 3), padding="same", use_bias=False, kernel_regularizer=reg,
                          name=f"lflb{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"lflb{i + 1}_bn")(x)
        x = layers.ReLU(name=f"lflb{i + 1}_relu")(x)
        x = layers.AveragePooling2D(pool, padding="same", name=f"lflb{i + 1}_pool")(x)

    x = layers.Conv2D(FINAL_FILTERS, (1, 1), padding="same", use_bias=False, kernel_regularizer=reg,
                      name="final_conv")(x)
    x = layers.BatchNormalization(name="final_bn")(x)
    x = layers.ReLU(name="final_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="light_sernet")


def with_input_frames(model: keras.Model, frames: int) -> keras.Model:
    """The same weights on another input length (the network is fully convolutional)."""
    shape = (frames,) + tuple(model.input_shape[2:])
    n_classes = model.output_shape[-1]
    clone = build_model(shape, n_classes, dropout=0.0, l2=0.0)
    clone.set_weights(model.get_weights())
    return clone

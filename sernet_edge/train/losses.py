"""Focal loss (Lin et al. 2017) for softmax outputs, serialisable so checkpoints reload."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="sernet_edge")
class FocalLoss(keras.losses.Loss):
    """mean over the batch of -sum_c y_c (1 - p_c)^gamma log p_c."""

    def __init__(self, gamma: float = 2.0, name: str = "focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.gamma = gamma

    def call(self, y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        y_true = ops.cast(y_true, p.dtype)
        return -ops.sum(y_true * ops.power(1.0 - p, self.gamma) * ops.log(p), axis=-1)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}

"""The TensorFlow side: model, trainer, converter. Imported only by `train` and `convert`."""

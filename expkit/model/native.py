"""expkit's own Keras layers and loss, for things Keras core lacks and configs cannot write as code:
a learned position embedding (keras_hub's PositionEmbedding, without depending on keras_hub), and the
Euclidean distance and contrastive loss of keras.io's siamese example (its distance is a Lambda).
Registered under the package `expkit`, so a saved model.keras names them `expkit>PositionEmbedding`,
`expkit>EuclideanDistance` / `expkit>ContrastiveLoss` and loads in safe mode once this module is
imported (model/saving.py does)."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="expkit")
class PositionEmbedding(keras.layers.Layer):
    """A learned vector for each position 0..sequence_length-1, as keras_hub's PositionEmbedding:
    called on a (batch, sequence, features) tensor, it returns the embeddings of its positions
    broadcast to that shape (add them to the token embeddings with an Add layer). A shorter
    sequence takes the first positions."""

    def __init__(self, sequence_length: int, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(sequence_length, int) or sequence_length < 1:
            raise ValueError(f"PositionEmbedding needs sequence_length, a positive integer, got {sequence_length!r}")
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"PositionEmbedding reads (batch, sequence, features), got shape {tuple(input_shape)}: "
                             "put it after an Embedding or another layer that outputs one vector per step")
        steps = input_shape[-2]
        if steps is not None and steps > self.sequence_length:
            raise ValueError(f"the input has {steps} positions but sequence_length is {self.sequence_length}: "
                             f"set sequence_length to at least {steps}")
        self.position_embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer)

    def call(self, inputs):
        shape = ops.shape(inputs)
        table = ops.convert_to_tensor(self.position_embeddings)
        table = ops.slice(table, (0, 0), (shape[-2], shape[-1]))
        return ops.broadcast_to(ops.cast(table, inputs.dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="expkit")
class EuclideanDistance(keras.layers.Layer):
    """The distance between two tensors of the same shape, one value per sample, as keras.io's siamese
    network computes it in a Lambda: sqrt(max(sum((a - b)^2, axis=-1, keepdims=True), epsilon)). The
    floor keeps the gradient finite when the two are equal (the square root's derivative at 0 is not)."""

    def __init__(self, epsilon: float = 1e-7, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon <= 0:
            raise ValueError(f"EuclideanDistance needs epsilon, a number > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, (list, tuple)) and input_shape \
            and isinstance(input_shape[0], (list, tuple)) else None
        if shapes is None or len(shapes) != 2:
            raise ValueError("EuclideanDistance measures between two tensors: call it on a list [a, b] "
                             "(inputs: [a, b] in a config)")
        if shapes[0][1:] != shapes[1][1:]:
            raise ValueError(f"EuclideanDistance needs two tensors of the same shape, got {shapes[0]} and "
                             f"{shapes[1]}: give both sides the same embedding size")

    def call(self, inputs):
        a, b = inputs
        sum_square = ops.sum(ops.square(a - b), axis=-1, keepdims=True)
        return ops.sqrt(ops.maximum(sum_square, ops.cast(self.epsilon, sum_square.dtype)))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="expkit")
class ContrastiveLoss(keras.losses.Loss):
    """keras.io's siamese contrastive loss on a predicted distance d, with its labels: 0 for a pair of the
    same kind (pulled together), 1 for a different pair (pushed at least `margin` apart):
    mean of (1 - y) * d^2 + y * max(margin - d, 0)^2."""

    def __init__(self, margin: float = 1.0, name: str = "contrastive", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        together = ops.square(y_pred)
        apart = ops.square(ops.maximum(self.margin - y_pred, 0.0))
        return ops.mean((1.0 - y_true) * together + y_true * apart, axis=-1)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}

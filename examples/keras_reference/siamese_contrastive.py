"""keras.io's siamese network with one shared tower and its contrastive loss, in plain Keras: the
Euclidean distance in a Lambda, as keras.io writes it (the YAML's EuclideanDistance layer)."""
import keras
from keras import ops


def euclidean_distance(vects):
    """keras.io's, word for word."""
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))


def build():
    L = keras.layers
    left, right = keras.Input((8, 8, 1), name="left"), keras.Input((8, 8, 1), name="right")
    tower = [L.Conv2D(8, 3, activation="tanh"), L.Flatten(), L.Dense(16, activation="tanh")]

    def embed(x):
        for layer in tower:
            x = layer(x)
        return x
    distance = L.Lambda(euclidean_distance, output_shape=(1,))([embed(left), embed(right)])
    return keras.Model([left, right], L.Dense(1, activation="sigmoid")(L.BatchNormalization()(distance)))

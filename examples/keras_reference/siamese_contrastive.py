"""A siamese network with one shared tower, in plain Keras."""
import keras


def build():
    L = keras.layers
    left, right = keras.Input((8, 8, 1), name="left"), keras.Input((8, 8, 1), name="right")
    tower = [L.Conv2D(8, 3, activation="tanh"), L.GlobalAveragePooling2D(), L.Dense(16, activation="tanh")]

    def embed(x):
        for layer in tower:
            x = layer(x)
        return x
    difference = L.Subtract()([embed(left), embed(right)])
    squared = L.Multiply()([difference, difference])
    return keras.Model([left, right], L.Dense(1, activation="sigmoid")(L.BatchNormalization()(squared)))

"""keras.io's siamese network with one shared tower and its contrastive loss, in plain Keras (the
squared distance as a frozen sum, like the YAML)."""
import keras


def build():
    L = keras.layers
    left, right = keras.Input((8, 8, 1), name="left"), keras.Input((8, 8, 1), name="right")
    tower = [L.Conv2D(8, 3, activation="tanh"), L.Flatten(), L.Dense(16, activation="tanh")]

    def embed(x):
        for layer in tower:
            x = layer(x)
        return x
    difference = L.Subtract()([embed(left), embed(right)])
    squared = L.Multiply()([difference, difference])
    distance = L.Dense(1, use_bias=False, kernel_initializer="ones", trainable=False)(squared)
    return keras.Model([left, right], L.Dense(1, activation="sigmoid")(L.BatchNormalization()(distance)))

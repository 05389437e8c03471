"""The mixed-precision guide's model (float32 softmax), in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([keras.Input((784,)), L.Dense(256, activation="relu"), L.Dense(256, activation="relu"),
                             L.Dense(10), L.Activation("softmax", dtype="float32")])

"""An MLP regressor, in plain Keras (compiled with Huber(delta=0.5) like the YAML)."""
import keras


def build():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    model.compile("adam", keras.losses.Huber(delta=0.5))
    return model

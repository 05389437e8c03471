"""keras.io's fully convolutional timeseries classifier, in plain Keras."""
import keras


def build():
    L = keras.layers
    layers = [keras.Input((128, 1))]
    for _ in range(3):
        layers += [L.Conv1D(64, 3, padding="same"), L.BatchNormalization(), L.ReLU()]
    return keras.Sequential(layers + [L.GlobalAveragePooling1D(), L.Dense(2, activation="softmax")])

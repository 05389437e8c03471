"""An MLP with batch normalization and dropout, in plain Keras."""
import keras


def build():
    layers = [keras.Input((784,))]
    for units in (256, 128):
        layers += [keras.layers.Dense(units, use_bias=False), keras.layers.BatchNormalization(),
                   keras.layers.Activation("relu"), keras.layers.Dropout(0.3)]
    return keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])

"""keras.io's convolutional autoencoder, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(2, padding="same"),
        L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(2, padding="same"),
        L.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
        L.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
        L.Conv2D(1, 3, activation="sigmoid", padding="same")])

"""A CIFAR-10 convnet with augmentation layers at the front, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((32, 32, 3)), L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1),
        L.Rescaling(1 / 255), L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3, padding="same", activation="relu"), L.MaxPooling2D(),
        L.Conv2D(128, 3, padding="same", activation="relu"), L.GlobalAveragePooling2D(),
        L.Dropout(0.5), L.Dense(10, activation="softmax")])

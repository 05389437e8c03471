"""Depthwise-separable convolution blocks, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((32, 32, 3)), L.Conv2D(32, 3, strides=2, padding="same"), L.BatchNormalization(),
        L.Activation("relu"), L.SeparableConv2D(64, 3, padding="same"), L.BatchNormalization(),
        L.Activation("relu"), L.SeparableConv2D(128, 3, padding="same"), L.BatchNormalization(),
        L.MaxPooling2D(3, strides=2, padding="same"), L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax")])

"""MobileNetV2 (random weights) with a new classification head, in plain Keras."""
import keras


def build():
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False,
                                              weights=None, pooling="avg")
    return keras.Sequential([keras.Input((32, 32, 3)), backbone, keras.layers.Dropout(0.2),
                             keras.layers.Dense(10, activation="softmax")])

"""The functional-API guide's toy ResNet block, in plain Keras."""
import keras


def build():
    L = keras.layers
    inputs = keras.Input((32, 32, 3), name="img")
    x = L.Conv2D(32, 3, activation="relu")(inputs)
    x = L.Conv2D(64, 3, activation="relu")(x)
    block_1 = L.MaxPooling2D(3)(x)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(block_1)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = L.Add()([x, block_1])
    x = L.Conv2D(64, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.5)(L.Dense(256, activation="relu")(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))

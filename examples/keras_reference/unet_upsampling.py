"""A small U-Net with UpSampling2D and skip connections, in plain Keras."""
import keras


def build():
    L = keras.layers
    image = keras.Input((32, 32, 3), name="image")
    down_1 = L.Conv2D(16, 3, padding="same", activation="relu")(image)
    down_2 = L.Conv2D(32, 3, padding="same", activation="relu")(L.MaxPooling2D(2)(down_1))
    x = L.Conv2D(64, 3, padding="same", activation="relu")(L.MaxPooling2D(2)(down_2))
    x = L.Conv2D(32, 3, padding="same", activation="relu")(L.Concatenate()([L.UpSampling2D(2)(x), down_2]))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(L.Concatenate()([L.UpSampling2D(2)(x), down_1]))
    return keras.Model(image, L.Conv2D(3, 1, activation="softmax")(x))

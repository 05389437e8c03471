"""keras.io's Embedding + Conv1D text classifier, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((200,), dtype="int32"), L.Embedding(20000, 128), L.Dropout(0.5),
        L.Conv1D(128, 7, padding="valid", activation="relu", strides=3),
        L.Conv1D(128, 7, padding="valid", activation="relu", strides=3),
        L.GlobalMaxPooling1D(), L.Dense(128, activation="relu"), L.Dropout(0.5),
        L.Dense(1, activation="sigmoid")])

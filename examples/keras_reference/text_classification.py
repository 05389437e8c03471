"""Text classification from raw strings with TextVectorization, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((), dtype="string"), L.TextVectorization(max_tokens=1000, output_sequence_length=16),
        L.Embedding(1000, 16), L.GlobalAveragePooling1D(), L.Dense(16, activation="relu"),
        L.Dense(1, activation="sigmoid")])

"""keras.io's bidirectional LSTM on IMDB, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([
        keras.Input((200,), dtype="int32"), L.Embedding(20000, 128),
        L.Bidirectional(L.LSTM(64, return_sequences=True)), L.Bidirectional(L.LSTM(64)),
        L.Dense(1, activation="sigmoid")])

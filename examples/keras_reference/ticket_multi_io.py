"""The functional-API guide's multi-input, multi-output ticket model, in plain Keras."""
import keras


def build():
    L = keras.layers
    title = keras.Input((None,), name="title", dtype="int32")
    body = keras.Input((None,), name="body", dtype="int32")
    tags = keras.Input((12,), name="tags")
    title_features = L.LSTM(128)(L.Embedding(10000, 64)(title))
    body_features = L.LSTM(32)(L.Embedding(10000, 64)(body))
    x = L.Concatenate()([title_features, body_features, tags])
    return keras.Model([title, body, tags], [L.Dense(1, name="priority")(x), L.Dense(4, name="department")(x)])

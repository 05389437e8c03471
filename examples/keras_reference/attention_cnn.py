"""The keras.layers.Attention docstring's CNN + attention model, in plain Keras."""
import keras


def build():
    L = keras.layers
    query_tokens = keras.Input((12,), dtype="int32", name="query_tokens")
    value_tokens = keras.Input((20,), dtype="int32", name="value_tokens")
    embedding, cnn = L.Embedding(1000, 64), L.Conv1D(100, 4, padding="same")
    query_seq, value_seq = cnn(embedding(query_tokens)), cnn(embedding(value_tokens))
    attended = L.Attention()([query_seq, value_seq])
    x = L.Concatenate()([L.GlobalAveragePooling1D()(query_seq), L.GlobalAveragePooling1D()(attended)])
    return keras.Model([query_tokens, value_tokens], L.Dense(1, activation="sigmoid")(x))

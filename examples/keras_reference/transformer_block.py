"""keras.io's transformer block text classifier, in plain Keras (position embedding as a learned
per-position bias, like the YAML)."""
import keras


def build():
    L = keras.layers
    tokens = keras.Input((200,), dtype="int32", name="tokens")
    x = L.EinsumDense("abc,cd->abd", output_shape=(200, 32), bias_axes="bd")(L.Embedding(20000, 32)(tokens))
    attended = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(L.MultiHeadAttention(2, 32)(x, x))]))
    ffn = L.Dropout(0.1)(L.Dense(32)(L.Dense(32, activation="relu")(attended)))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([attended, ffn]))
    x = L.Dropout(0.1)(L.GlobalAveragePooling1D()(x))
    x = L.Dropout(0.1)(L.Dense(20, activation="relu")(x))
    return keras.Model(tokens, L.Dense(2, activation="softmax")(x))

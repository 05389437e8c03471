"""keras.io's transformer block text classifier, in plain Keras, with the position half of keras.io's
TokenAndPositionEmbedding written out: an Embedding of the positions 0..n-1."""
import keras


class PositionEmbedding(keras.layers.Layer):
    def __init__(self, sequence_length, dim):
        super().__init__()
        self.positions = keras.layers.Embedding(sequence_length, dim)

    def call(self, x):
        shape = keras.ops.shape(x)
        return keras.ops.broadcast_to(self.positions(keras.ops.arange(shape[1])), shape)


def build():
    L = keras.layers
    tokens = keras.Input((200,), dtype="int32", name="tokens")
    embedded = L.Embedding(20000, 32)(tokens)
    x = L.Add()([embedded, PositionEmbedding(200, 32)(embedded)])
    attended = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(L.MultiHeadAttention(2, 32)(x, x))]))
    ffn = L.Dropout(0.1)(L.Dense(32)(L.Dense(32, activation="relu")(attended)))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([attended, ffn]))
    x = L.Dropout(0.1)(L.GlobalAveragePooling1D()(x))
    x = L.Dropout(0.1)(L.Dense(20, activation="relu")(x))
    return keras.Model(tokens, L.Dense(2, activation="softmax")(x))

"""One Embedding shared by two inputs, in plain Keras."""
import keras


def build():
    L = keras.layers
    question, answer = keras.Input((20,), dtype="int32", name="question"), keras.Input((30,), dtype="int32", name="answer")
    embedding = L.Embedding(1000, 64)
    q, a = L.GlobalAveragePooling1D()(embedding(question)), L.GlobalAveragePooling1D()(embedding(answer))
    return keras.Model([question, answer], L.Dense(1, activation="sigmoid")(L.Dot(axes=1, normalize=True)([q, a])))

"""Stacked LSTM and GRU, in plain Keras."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([keras.Input((50, 1)), L.LSTM(32, return_sequences=True), L.GRU(32), L.Dense(1)])

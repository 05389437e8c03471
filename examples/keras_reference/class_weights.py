"""The imbalanced-classification example's MLP, in plain Keras (class weights are passed to fit)."""
import keras


def build():
    L = keras.layers
    return keras.Sequential([keras.Input((30,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                             L.Dropout(0.3), L.Dense(1, activation="sigmoid")])

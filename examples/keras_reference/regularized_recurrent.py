"""Per-layer regularizers, initializers and constraints, recurrent ones included, in plain Keras."""
import keras


def build():
    L, R = keras.layers, keras.regularizers
    return keras.Sequential([
        keras.Input((50, 1)),
        L.LSTM(32, kernel_initializer="he_uniform", recurrent_initializer=keras.initializers.Orthogonal(0.5),
               kernel_regularizer=R.L2(1e-4), recurrent_regularizer=R.L2(1e-4), bias_regularizer=R.L1(1e-4),
               recurrent_dropout=0.1),
        L.Dense(16, activation="relu", kernel_initializer="he_normal", activity_regularizer=R.L1(1e-5),
                kernel_constraint=keras.constraints.MaxNorm(3)),
        L.Dense(1)])

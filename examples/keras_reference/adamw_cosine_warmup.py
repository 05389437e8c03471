"""An MLP compiled with AdamW and a warm-up + cosine schedule, in plain Keras."""
import keras


def build():
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="gelu"),
                              keras.layers.Dense(10, activation="softmax")])
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 40, warmup_target=0.001, warmup_steps=20)
    model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.05), "sparse_categorical_crossentropy")
    return model

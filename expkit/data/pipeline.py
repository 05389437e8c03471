"""tf.data pipelines over prepared splits. TensorFlow is imported here only, when called."""
from __future__ import annotations

from expkit.data.prepare import DataSplits


def make_pipelines(splits: DataSplits, batch_size: int, seed: int, *, cache: bool = True,
                   shuffle: bool = True, shuffle_buffer: int | None = None, input_names: list[str] | None = None):
    """(train_ds, val_ds or None, test_ds or None), batched and prefetched.

    With `input_names`, sample column i feeds the model input named input_names[i], as shape [1]
    (a skip-gram model's word and context inputs).

    Training data is cached before the shuffle, so each epoch reshuffles from memory; the order
    depends only on `seed`. Validation and test data are never shuffled.
    """
    import tensorflow as tf

    def pipeline(x, y, training: bool):
        if x is None:
            return None
        size = len(x)
        if input_names:
            x = {name: x[:, i:i + 1] for i, name in enumerate(input_names)}
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if cache:
            dataset = dataset.cache()
        if training and shuffle:
            dataset = dataset.shuffle(shuffle_buffer or size, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return (pipeline(splits.x_train, splits.y_train, True),
            pipeline(splits.x_val, splits.y_val, False),
            pipeline(splits.x_test, splits.y_test, False))

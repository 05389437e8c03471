"""What every source hands to `prepare`: arrays as read, before splitting and preprocessing."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(eq=False)
class RawData:
    """One dataset as read. `x_test`/`x_val` are None when the data has no such split of its own.

    kind decides `scale: auto`: "image" (uint8 pixels), "tabular" (numeric features) or
    "sequence" (int token ids, never scaled).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    task: str
    kind: str
    source: str
    num_classes: int | None = None
    class_names: list[str] | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    feature_names: list[str] | None = None  # table columns, in order (CSV header; scikit-learn's names)
    vocabulary: list[str] | None = None     # text: the word of each token id (skipgram)
    decoding: object | None = None          # streamed images: x holds file paths, this decodes them
    skipped: int = 0                        # corrupt files left out (skip_corrupt)
    sample_weight: np.ndarray | None = None  # CSV's dataset.sample_weight: one float32 per x_train row

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One raw sample's shape (a streamed set's x holds paths, so its decoding knows it)."""
        return tuple(self.decoding.sample_shape) if self.decoding is not None else tuple(self.x_train.shape[1:])


def names_to_indices(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class indices for arbitrary labels: sorted distinct values -> 0, 1, ...; names are their text."""
    names, indices = np.unique(values, return_inverse=True)
    return indices.reshape(-1).astype(np.int64), [str(name) for name in names]


def random_generator(seed: int, *stream: int) -> np.random.Generator:
    """numpy's generator for `seed` (any int), with an optional stream number per purpose."""
    return np.random.default_rng([seed % 2**64, *stream] if stream else seed % 2**64)

"""What a network learns first: its first layer's weights as pictures, and a confusion matrix as one.

Plain numpy (no TensorFlow, no matplotlib), shared by the TensorBoard images written at the end of a
run and by `expkit plot --weights`, so both show the same picture.
"""
from __future__ import annotations

import math

import numpy as np

CELL = 28  # pixels per filter side in the grid (a 3x3 kernel is scaled up to be seen)
GAP_COLOUR = (0.72, 0.82, 1.0)


def first_layer_filters(layers, input_shape: tuple) -> tuple[str, np.ndarray] | None:
    """(description, filters as an array [n, height, width, channels]) of the first layer that has a
    kernel, when its weights read as images: a Conv2D kernel, or a Dense layer over a whole image (an
    MLP on MNIST: each unit's 784 weights are a 28x28 picture). None otherwise."""
    image = tuple(int(d) for d in input_shape if d is not None)
    for layer in layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        weights = np.asarray(kernel)
        kind = type(layer).__name__
        if weights.ndim == 4:  # Conv2D: (height, width, in_channels, filters)
            height, width, channels, count = weights.shape
            filters = np.transpose(weights, (3, 0, 1, 2))
            if channels not in (1, 3):  # a picture needs gray or RGB: show the mean over the inputs
                filters = filters.mean(axis=-1, keepdims=True)
            return f"{layer.name} ({kind}, {count} filters {height}x{width})", filters
        if weights.ndim == 2 and len(image) in (2, 3) and weights.shape[0] == math.prod(image):
            shape = image if len(image) == 3 else image + (1,)
            if shape[-1] not in (1, 3):
                return None
            filters = np.transpose(weights).reshape((weights.shape[1],) + shape)
            return f"{layer.name} ({kind}, {weights.shape[1]} units over {'x'.join(map(str, image))} inputs)", filters
        return None
    return None


def filter_grid(filters: np.ndarray, limit: int = 64) -> np.ndarray:
    """Up to `limit` filters tiled in a near-square grid as one RGB image (float32 in [0, 1]), each
    scaled on its own (grey is 0; darker and lighter are negative and positive weights), scaled up
    to about CELL pixels a side, with 2 px of pale blue between them (white is a weight)."""
    filters = np.asarray(filters, dtype="float32")[:limit]
    count, height, width, channels = filters.shape
    scale = max(1, CELL // max(height, width))
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    gap = 2
    side_h, side_w = height * scale, width * scale
    grid = np.empty((rows * (side_h + gap) + gap, columns * (side_w + gap) + gap, 3), dtype="float32")
    grid[:] = GAP_COLOUR
    for i, f in enumerate(filters):
        peak = float(np.abs(f).max()) or 1.0
        tile = 0.5 + 0.5 * f / peak
        tile = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
        if channels == 1:
            tile = np.repeat(tile, 3, axis=-1)
        r, c = divmod(i, columns)
        top, left = gap + r * (side_h + gap), gap + c * (side_w + gap)
        grid[top:top + side_h, left:left + side_w] = tile
    return grid


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((classes, classes), dtype="int64")
    np.add.at(counts, (labels.astype("int64"), predicted.astype("int64")), 1)
    return counts


def confusion_image(counts: np.ndarray, cell: int = 24) -> np.ndarray:
    """Rows (true class) normalised to fractions, white (0) to dark blue (1), as an RGB image in [0, 1]:
    the diagonal is what the model gets right, an off-diagonal block what it confuses."""
    totals = counts.sum(axis=1, keepdims=True)
    fraction = np.divide(counts, totals, out=np.zeros(counts.shape, dtype="float64"), where=totals > 0)
    blue = np.array([0.03, 0.19, 0.42])
    image = 1.0 - fraction[..., None] * (1.0 - blue)
    image = np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)
    image[::cell, :] = image[:, ::cell] = 0.85  # faint lines between cells
    return image.astype("float32")


def confusion_markdown(counts: np.ndarray, names: list[str] | None = None) -> str:
    """The counts as a Markdown table (TensorBoard's text tab renders it): rows true, columns predicted."""
    names = names or [str(i) for i in range(len(counts))]
    head = "| true \\ predicted | " + " | ".join(names) + " |"
    rule = "|---|" + "---:|" * len(names)
    rows = [f"| **{name}** | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(names, counts)]
    return "\n".join([head, rule, *rows])

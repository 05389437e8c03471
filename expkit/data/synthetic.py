"""Synthetic datasets made from the seed with numpy alone: the same seed gives the same arrays.

`samples` points in all (train + test; `prepare` holds out `test_split` of them), drawn from
`numpy.random.default_rng(seed)`. `noise` is the standard deviation of Gaussian noise added to
the inputs (classification sets) or to the target (regression sets).

Classification, 2 features, labels 0/1, each label equally likely:
- xor: four Gaussian blobs (std `noise`) centred on the corners (+-1, +-1) of a square;
  label 1 when the centre's two coordinates have different signs (XOR of the signs).
- moons: two interleaving half circles (label 0: (cos t, sin t); label 1: (1 - cos t, 0.5 - sin t),
  t ~ U(0, pi)), as scikit-learn's make_moons.
- circles: two concentric circles, radius 1 (label 0) and 0.5 (label 1; factor 0.5), angle ~ U(0, 2 pi).
- spirals: two interleaved spirals of 1.5 turns, radius t ~ U(0, 1), angle 3 pi t (+ pi for label 1).

Regression:
- series: sequence-to-sequence. Each sample is a sine wave of random frequency (1/50 to 1/10 cycles
  per step), phase and amplitude (0.5 to 1.5) over `sequence_length` steps (default 50), plus
  N(0, noise^2) at every step: shape (sequence_length, 1). The target, of the same shape, is the
  clean wave one step ahead at every step: denoise and extrapolate.
- linear: X ~ N(0, 1) with `features` columns; y = X . w + b + N(0, noise^2). The true weights
  come from the seed: w ~ U(-3, 3) per feature and b ~ U(-1, 1), rounded to 2 decimals, drawn first
  from default_rng(seed); `linear_weights(seed, features)` returns them, and the run's source
  line prints them.
- house_prices: 3 features: floor area in m^2 ~ U(30, 250), distance to public transport in
  km ~ U(0.1, 10), rooms ~ integer in 1..7. Target: price in thousands =
  50 + 3.0 * area - 15.0 * distance + 20.0 * rooms + N(0, (100 * noise)^2),
  so the default noise 0.1 is a standard deviation of 10 (thousand).
"""
from __future__ import annotations

import numpy as np

from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData, random_generator

SERIES_LENGTH = 50  # steps per `series` sample unless dataset.sequence_length says otherwise
HOUSE_PRICE_WEIGHTS = {"intercept": 50.0, "area": 3.0, "distance": -15.0, "rooms": 20.0}
HOUSE_PRICE_NOISE_SCALE = 100.0  # noise 0.1 -> std 10 thousand: prices are in the hundreds


def _xor(rng, n, noise):
    corners = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    corner = rng.integers(0, 4, n)
    centres = corners[corner]
    y = (centres[:, 0] > 0) != (centres[:, 1] > 0)
    return centres + rng.normal(0.0, noise, (n, 2)), y


def _moons(rng, n, noise):
    y = rng.integers(0, 2, n)
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return x + rng.normal(0.0, noise, (n, 2)), y


def _circles(rng, n, noise):
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    radius = np.where(y == 0, 1.0, 0.5)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + rng.normal(0.0, noise, (n, 2)), y


def _spirals(rng, n, noise):
    y = rng.integers(0, 2, n)
    t = rng.uniform(0.0, 1.0, n)
    angle = 3.0 * np.pi * t + np.pi * y
    x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + rng.normal(0.0, noise, (n, 2)), y


def _draw_linear_weights(rng, features):
    weights = np.round(rng.uniform(-3.0, 3.0, features), 2)
    return weights, float(np.round(rng.uniform(-1.0, 1.0), 2))


def linear_weights(seed: int, features: int) -> tuple[np.ndarray, float]:
    """The true (w, b) of the synthetic `linear` set made from `seed`."""
    return _draw_linear_weights(random_generator(seed), features)


def _linear(rng, n, noise, features):
    weights, bias = _draw_linear_weights(rng, features)
    x = rng.normal(0.0, 1.0, (n, features))
    y = x @ weights + bias + rng.normal(0.0, noise, n)
    return x, y, f"y = X . {weights.tolist()} + {bias}"


def _house_prices(rng, n, noise):
    area = rng.uniform(30.0, 250.0, n)
    distance = rng.uniform(0.1, 10.0, n)
    rooms = rng.integers(1, 8, n).astype(np.float64)
    w = HOUSE_PRICE_WEIGHTS
    price = (w["intercept"] + w["area"] * area + w["distance"] * distance + w["rooms"] * rooms
             + rng.normal(0.0, noise * HOUSE_PRICE_NOISE_SCALE, n))
    return np.stack([area, distance, rooms], axis=1), price


def _series(rng, n, noise, length):
    """Noisy sine waves in, the clean wave one step ahead out: (n, length, 1) each."""
    t = np.arange(length + 1, dtype=np.float64)
    freq = rng.uniform(0.02, 0.1, (n, 1))        # cycles per step: 10 to 50 steps a period
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    clean = amplitude * np.sin(2.0 * np.pi * freq * t + phase)
    x = clean[:, :-1] + rng.normal(0.0, noise, (n, length))
    return x[..., None], clean[:, 1:, None]


_CLASSIFIERS = {"xor": _xor, "moons": _moons, "circles": _circles, "spirals": _spirals}


def make_synthetic(name: str, samples: int, noise: float, features: int, seed: int,
                   length: int | None = None) -> RawData:
    rng = random_generator(seed)
    source = f"synthetic {name} (seed {seed}, {samples} samples, noise {noise})"
    if name in _CLASSIFIERS:
        x, y = _CLASSIFIERS[name](rng, samples, noise)
        return RawData(x, y.astype(np.int64), CLASSIFICATION, "tabular", source,
                       num_classes=2, class_names=["0", "1"])
    if name == "linear":
        x, y, formula = _linear(rng, samples, noise, features)
        return RawData(x, y, REGRESSION, "tabular", f"{source}: {formula}")
    if name == "series":
        x, y = _series(rng, samples, noise, length or SERIES_LENGTH)
        return RawData(x, y, REGRESSION, "tabular",
                       f"{source}: noisy sine waves, target the clean value one step ahead at every step")
    if name == "house_prices":
        x, y = _house_prices(rng, samples, noise)
        return RawData(x, y, REGRESSION, "tabular",
                       f"{source}: price = 50 + 3 area - 15 distance + 20 rooms (thousands)",
                       feature_names=["area", "distance", "rooms"])
    raise ValueError(f"not a synthetic dataset: {name!r}")

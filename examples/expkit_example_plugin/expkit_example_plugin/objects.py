"""The example plugin's objects, registered under the package name `expkit_example_plugin`: a saved
model.keras then names this plugin in its registered_name ('expkit_example_plugin>ScaledDense')."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

PACKAGE = "expkit_example_plugin"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledDense(keras.layers.Layer):
    """A Dense layer whose output is multiplied by a learned scalar per unit (starts at `scale`)."""

    def __init__(self, units: int, scale: float = 1.0, activation=None, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale, self.activation = int(units), float(scale), keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer=self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.gain = self.add_weight(shape=(self.units,), initializer=keras.initializers.Constant(self.scale),
                                    name="gain")

    def call(self, inputs):
        return self.activation((ops.matmul(inputs, self.kernel) + self.bias) * self.gain)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SmoothL1(keras.losses.Loss):
    """Huber's loss by its other name, with `beta` where quadratic turns linear."""

    def __init__(self, beta: float = 1.0, name: str = "smooth_l1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = float(beta)

    def call(self, y_true, y_pred):
        diff = ops.abs(ops.cast(y_true, y_pred.dtype) - y_pred)
        return ops.mean(ops.where(diff < self.beta, 0.5 * diff ** 2 / self.beta, diff - 0.5 * self.beta), axis=-1)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WithinTenth(keras.metrics.MeanMetricWrapper):
    """The share of predictions within `tolerance` (0.1) of the target."""

    def __init__(self, tolerance: float = 0.1, name: str = "within_tenth", dtype=None):
        super().__init__(fn=_within, name=name, dtype=dtype, tolerance=float(tolerance))
        self.tolerance = float(tolerance)

    def get_config(self):
        return {"tolerance": self.tolerance, "name": self.name, "dtype": self.dtype}


def _within(y_true, y_pred, tolerance):
    return ops.mean(ops.cast(ops.abs(ops.cast(y_true, y_pred.dtype) - y_pred) <= tolerance, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledNormal(keras.initializers.Initializer):
    """Normal weights with standard deviation gain / sqrt(fan_in) (He's for gain sqrt(2))."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        # As Keras' own: no seed draws one (from NumPy's state, which expkit seeds from experiment.seed).
        self.gain = float(gain)
        self.seed = int(seed) if seed is not None else int(np.random.randint(2**31 - 1))

    def __call__(self, shape, dtype=None):
        fan_in = int(np.prod(shape[:-1])) or 1
        return keras.random.normal(shape, stddev=self.gain / np.sqrt(fan_in), dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SoftL1(keras.regularizers.Regularizer):
    """factor * sum(sqrt(w**2 + epsilon)): L1's pull towards zero, smooth at zero."""

    def __init__(self, factor: float = 0.01, epsilon: float = 1e-3):
        self.factor, self.epsilon = float(factor), float(epsilon)

    def __call__(self, weights):
        return self.factor * ops.sum(ops.sqrt(ops.square(weights) + self.epsilon))

    def get_config(self):
        return {"factor": self.factor, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TriangularCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's cyclical learning rate: up from low to high over half_cycle steps, down again, repeat."""

    def __init__(self, low: float, high: float, half_cycle: int):
        self.low, self.high, self.half_cycle = float(low), float(high), int(half_cycle)

    def __call__(self, step):
        phase = ops.mod(ops.cast(step, "float32"), 2.0 * self.half_cycle) / self.half_cycle  # 0 .. 2
        return self.low + (self.high - self.low) * (1.0 - ops.abs(phase - 1.0))

    def get_config(self):
        return {"low": self.low, "high": self.high, "half_cycle": self.half_cycle}


class GainLogger(keras.callbacks.Callback):
    """Adds the mean learned gain of the ScaledDense layers to each epoch's logs (metrics.csv, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        gains = [float(ops.mean(layer.gain)) for layer in self.model.layers if isinstance(layer, ScaledDense)]
        if gains and logs is not None:
            logs["scaled_dense_gain"] = sum(gains) / len(gains)


# The names configs use (EXPKIT_PLUGIN) -> the classes: expkit builds them with the config's arguments.
LAYERS = {"ScaledDense": ScaledDense}
LOSSES = {"smooth_l1": SmoothL1}
METRICS = {"within_tenth": WithinTenth}
INITIALIZERS = {"scaled_normal": ScaledNormal}
REGULARIZERS = {"soft_l1": SoftL1}
SCHEDULES = {"triangular_cycle": TriangularCycle}
CALLBACKS = {"gain_logger": GainLogger}


def noisy_sine(config, seed: int) -> dict:
    """y = sin(3x) + noise over x in [-1, 1]: a regression a small network fits in a few epochs."""
    rng = np.random.default_rng(seed)
    samples = config.samples or 1000

    def draw(n):
        x = rng.uniform(-1, 1, size=(n, 1)).astype("float32")
        return x, (np.sin(3 * x) + rng.normal(0, 0.05, size=(n, 1))).astype("float32")
    x_train, y_train = draw(samples)
    x_test, y_test = draw(max(100, samples // 4))
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "task": "regression", "kind": "tabular"}


DATASETS = {"noisy_sine": noisy_sine}

"""Learning-rate schedules Keras does not ship: linear warm-up and the one-cycle policy."""
from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="expkit")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Ramp linearly from 0 to `learning_rate` over `warmup_steps`, then hold it. New runs use Keras'
    CosineDecay(warmup_target=..., alpha=1) instead; this class stays so models saved with it load."""

    def __init__(self, learning_rate: float, warmup_steps: int):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        return self.learning_rate * ops.minimum(1.0, (step + 1.0) / self.warmup_steps)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="expkit")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's one-cycle policy with cosine annealing, as PyTorch's OneCycleLR."""

    def __init__(self, max_learning_rate: float, total_steps: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4):
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.max_learning_rate
        start = peak / self.div_factor
        end = start / self.final_div_factor
        up_steps = max(1.0, self.pct_start * self.total_steps - 1.0)
        down_steps = max(1.0, self.total_steps - 1.0 - up_steps)

        def cos_anneal(a, b, frac):
            frac = ops.clip(frac, 0.0, 1.0)
            return b + (a - b) / 2.0 * (1.0 + ops.cos(math.pi * frac))

        rising = cos_anneal(start, peak, step / up_steps)
        falling = cos_anneal(peak, end, (step - up_steps) / down_steps)
        return ops.where(step <= up_steps, rising, falling)

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "pct_start": self.pct_start, "div_factor": self.div_factor,
                "final_div_factor": self.final_div_factor}

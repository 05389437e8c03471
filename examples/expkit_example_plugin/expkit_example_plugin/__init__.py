"""An example expkit plugin. This module only declares names (no TensorFlow import, so `expkit
validate` stays fast); `objects` defines and registers them when a model is built or loaded."""

EXPKIT_PLUGIN = {
    "objects": "expkit_example_plugin.objects",
    "layers": ["ScaledDense"],
    "losses": ["smooth_l1"],
    "metrics": ["within_tenth"],
    "initializers": ["scaled_normal"],
    "regularizers": ["soft_l1"],
    "schedules": ["triangular_cycle"],
    "callbacks": ["gain_logger"],
    "datasets": ["noisy_sine"],
}

"""Device choice stands in for TensorFlow's device list; mixed precision builds a float32 output."""
from __future__ import annotations

import pytest

from expkit.model.device import choose_device
from expkit.errors import ExpkitError

GPU_LIST = ["/physical_device:GPU:0"]


@pytest.mark.parametrize("requested,gpus,device,jit,mixed,hide", [
    ("auto", [], "/CPU:0", False, False, False),
    ("auto", GPU_LIST, "/GPU:0", True, True, False),
    ("gpu", GPU_LIST, "/GPU:0", True, True, False),
    ("cpu", GPU_LIST, "/CPU:0", False, False, True),
    ("cpu", [], "/CPU:0", False, False, False),
])
def test_device_and_auto_speed_options(requested, gpus, device, jit, mixed, hide):
    plan = choose_device(requested, gpus)
    assert (plan.device, plan.jit_compile, plan.mixed_precision, plan.hide_gpus) == (device, jit, mixed, hide)


def test_explicit_speed_options_win_over_auto():
    plan = choose_device("auto", GPU_LIST, jit_compile=False, mixed_precision=False)
    assert not plan.jit_compile and not plan.mixed_precision
    assert choose_device("auto", [], jit_compile=True).jit_compile


def test_gpu_requested_without_one_is_a_clear_error():
    with pytest.raises(ExpkitError, match="training.device is gpu, but TensorFlow sees no GPU"):
        choose_device("gpu", [])


def test_mixed_precision_keeps_the_output_in_float32(tmp_path):
    from expkit.backend import import_keras
    from expkit.model.builder import build_model
    from tests.helpers import load
    keras = import_keras()
    loaded = load(tmp_path, [{"type": "Dense", "units": 8, "activation": "relu"},
                             {"type": "Dense", "units": 3, "activation": "softmax"}])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(loaded.config, {"input": (4,)}, compile=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[0].compute_dtype == "float16"
    assert model.layers[-1].name == "output_float32"
    assert model.outputs[0].dtype == "float32"


def test_jax_compiles_by_default_as_keras_does_and_keeps_mixed_precision_rules():
    plan = choose_device("auto", [], backend="jax")
    assert plan.jit_compile and not plan.mixed_precision and plan.backend == "jax"
    assert not choose_device("auto", [], jit_compile=False, backend="jax").jit_compile
    assert choose_device("auto", ["gpu:0"], backend="jax").mixed_precision


def test_gpu_requested_without_one_on_jax_names_jax():
    with pytest.raises(ExpkitError, match="training.device is gpu, but JAX sees no GPU"):
        choose_device("gpu", [], backend="jax")


def test_backend_env_is_set_before_jax_loads(tmp_path):
    from expkit.model.device import backend_env
    from tests.helpers import load
    layers = [{"type": "Dense", "units": 1}]
    assert backend_env(load(tmp_path, layers).config.training) == {}
    jax = load(tmp_path, layers, training={"backend": "jax", "device": "cpu"}).config.training
    assert backend_env(jax) == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "JAX_PLATFORMS": "cpu"}
    whole = load(tmp_path, layers, training={"backend": "jax", "gpu_memory": "all"}).config.training
    assert backend_env(whole) == {}

"""The config layer: plain pydantic models. It imports no Keras or TensorFlow."""
from expkit.config.experiment import ExperimentConfig
from expkit.config.loader import LoadedConfig, dump_config, load_config

__all__ = ["ExperimentConfig", "LoadedConfig", "dump_config", "load_config"]

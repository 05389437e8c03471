"""Small builders for test configs: a dict in, a LoadedConfig out."""
from __future__ import annotations

from pathlib import Path

import yaml

from expkit.config import load_config


def config_dict(layers, **sections) -> dict:
    data = {
        "experiment": {"name": "t", "seed": 1},
        "dataset": {"name": "xor"},
        "model": {"layers": layers},
        "compile": {"loss": "mse", "optimizer": "adam"},
        "training": {"epochs": 1},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


def xor_classifier(learning_rate: float = 0.01, units: int = 8, **sections) -> dict:
    """A small tanh net that learns noisy XOR in a few epochs: the config of the multi-process tests."""
    compile_ = {"loss": "binary_crossentropy", "metrics": ["accuracy"],
                "optimizer": {"name": "adam", "learning_rate": learning_rate}}
    layers = [{"type": "Dense", "units": units, "activation": "tanh"},
              {"type": "Dense", "units": 1, "activation": "sigmoid"}]
    return config_dict(layers, **{"compile": compile_, **sections})


def write_config(tmp_path: Path, data: dict, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(tmp_path: Path, layers, **sections):
    return load_config(write_config(tmp_path, config_dict(layers, **sections)))

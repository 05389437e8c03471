"""The run folder's layout: one name for each file, and the format version readers check.

    runs/<YYYYmmdd-HHMMSS>-<name>-<4 hex>/
      config.yaml  config.json  run.json  metrics.csv  results.json  model.keras  [best.keras]
      [preprocessing.json]  [state.npz]  [*.log]  tb/  [export/<format>/]

state.npz is the training state at the end of the last finished epoch (weights, optimizer, epoch,
callbacks, random generators), written while a run trains so that `expkit resume` can continue it;
it is removed when the run completes (kept with training.keep_state).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from expkit.errors import ExpkitError

# 1: folders written before run.json recorded a format_version (read the same way).
# 2: run.json holds format_version.
FORMAT_VERSION = 2


class BadRun(ExpkitError):
    """A folder that is not a readable run: missing or corrupt files."""


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    config_yaml = property(lambda self: self.path / "config.yaml")
    config_json = property(lambda self: self.path / "config.json")
    run_json = property(lambda self: self.path / "run.json")
    metrics_csv = property(lambda self: self.path / "metrics.csv")
    results_json = property(lambda self: self.path / "results.json")
    model_file = property(lambda self: self.path / "model.keras")
    best_model_file = property(lambda self: self.path / "best.keras")
    preprocessing_json = property(lambda self: self.path / "preprocessing.json")
    tb_dir = property(lambda self: self.path / "tb")
    state_file = property(lambda self: self.path / "state.npz")
    log_file = property(lambda self: self.path / "train.log")  # a sweep child's output

    def export_dir(self, fmt: str) -> Path:
        return self.path / "export" / fmt

    @property
    def is_run(self) -> bool:
        return self.run_json.is_file()

    def read_json(self, file: Path, required: bool = False) -> dict | None:
        """A JSON object from one of this folder's files; BadRun names the file when it is missing
        (and required), unreadable or not an object."""
        try:
            with open(file, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            if required:
                raise BadRun(f"{self.path}: not a run folder (no {file.name})") from None
            return None
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested 100,000 deep
            raise BadRun(f"{self.path}: {file.name} is unreadable ({exc})") from None
        if not isinstance(data, dict):
            raise BadRun(f"{self.path}: {file.name} does not hold a JSON object")
        return data

    def read_preprocessing(self) -> dict | None:
        return self.read_json(self.preprocessing_json)

    def read_config(self) -> dict:
        """The resolved config: config.json, else config.yaml (folders from before config.json)."""
        config = self.read_json(self.config_json)
        return config if config is not None else self._read_config_yaml()

    def _read_config_yaml(self) -> dict:
        import yaml
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(self.config_yaml.read_text(encoding="utf-8"), Loader=loader)
        except FileNotFoundError:
            raise BadRun(f"{self.path}: not a run folder (no config.yaml)") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
            raise BadRun(f"{self.path}: config.yaml is unreadable ({exc})") from None
        if not isinstance(data, dict):
            raise BadRun(f"{self.path}: config.yaml does not hold a mapping")
        return data

    def require_model(self) -> Path:
        if not self.model_file.is_file():
            raise ExpkitError(f"{self.path}: no model.keras (not a completed run?); give the folder of a "
                              "completed run")
        return self.model_file

"""Every shipped config validates, builds on the CPU, and says how to run it and what it reaches."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from expkit.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {"mnist_cnn.yaml", "fashion_mnist_cnn.yaml", "mnist_mlp.yaml", "xor_mlp.yaml",
            "house_prices_linear.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_builds_on_cpu(path):
    from expkit.training.run import prepare
    loaded = load_config(path, ["training.device=cpu"])
    model = prepare(loaded, load_data=False).model
    assert model.count_params() > 0
    assert model.optimizer is not None  # compiled


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_header_gives_command_and_expected_result(path):
    head = [line for line in path.read_text().splitlines() if line.startswith("#")]
    text = "\n".join(head)
    assert f"expkit train configs/{path.name}" in text or f"expkit sweep configs/{path.name}" in text
    assert "Expected:" in text


def test_schema_file_is_current():
    from expkit.config import ExperimentConfig
    written = json.loads((ROOT / "expkit.schema.json").read_text())
    assert written == ExperimentConfig.model_json_schema(), "run: make docs"


def test_readme_reference_is_current():
    from expkit.config.reference import markdown_reference
    assert markdown_reference() in (ROOT / "README.md").read_text(), \
        "the README's config reference is stale: run make docs"

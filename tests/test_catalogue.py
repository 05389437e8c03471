"""Every catalogue config, and every variant of a catalogue sweep, trains for one epoch on a small slice.

The full runs take an hour (benchmarks/reproduce.sh); this catches a config that validates and builds
but fails once real data flows through it (a wrong input shape, a loss that does not fit the labels,
a layer Keras rejects at call time).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from expkit.config import load_config
from expkit.sweep.points import expand

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# One epoch on a slice: a few batches of real data through every layer, train and test.
SLICE = ["training.epochs=1", "training.device=cpu", "dataset.limit=600", "dataset.test_limit=200"]


def catalogue_points() -> list:
    """(config, variant overrides) for each config's base and each sweep variant (first seed only)."""
    cases = []
    for path in CONFIGS:
        spec = load_config(path).config.sweep
        cases.append(pytest.param(path, [], id=path.stem))
        if spec is None or not spec.variants:
            continue
        for variant in spec.variants:
            if variant.set:
                point = expand(spec.model_copy(update={"variants": [variant], "seeds": None, "grid": {},
                                                       "random": None}), 0, "v")[0]
                cases.append(pytest.param(path, point.overrides, id=f"{path.stem}-{variant.name}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("path,overrides", catalogue_points())
def test_catalogue_config_trains_one_epoch_on_a_slice(path, overrides, tmp_path):
    from expkit.training.run import train
    loaded = load_config(path, [*SLICE, *overrides])
    run_dir = train(loaded, tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    results = json.loads((run_dir / "results.json").read_text())
    assert run["status"] == "completed"
    assert results["epochs_run"] == 1
    assert results["test"] and all(math.isfinite(v) for v in results["test"].values()), results["test"]
    assert (run_dir / "model.keras").is_file()


PUBLISHED = [p for p in CONFIGS if "published:" in p.read_text()]


def test_most_catalogue_configs_have_a_published_figure():
    assert len(PUBLISHED) >= 8, [p.name for p in PUBLISHED]


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_published_figure_names_a_metric_the_run_reports(path):
    """The README table puts experiment.published beside a compare column: that column must exist."""
    config = load_config(path).config
    published = config.experiment.published
    split, _, metric = published.metric.partition(".")
    assert split in ("train", "val", "test"), published.metric
    reported = {"loss", *(m.name if hasattr(m, "name") else str(m) for m in config.compile.metrics)}
    assert metric in reported, f"{published.metric} is not among the compiled metrics {sorted(reported)}"

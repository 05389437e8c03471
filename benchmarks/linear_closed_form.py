"""A linear-regression run against the closed-form least-squares optimum on the same data.

    python benchmarks/linear_closed_form.py RUN_FOLDER

Reads the run's resolved config, rebuilds exactly its splits (same seed, same preprocessing), solves
ordinary least squares on the training split with numpy, and prints both test RMSEs and the true
noise level, so a reader sees how close SGD came to the best any linear model can do.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits
from expkit.data.synthetic import HOUSE_PRICE_NOISE_SCALE


def rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred.reshape(-1) - y.reshape(-1)) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder of a linear-regression config")
    args = parser.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    results = json.loads((args.run / "results.json").read_text())
    splits = load_splits(DatasetConfig(**config["dataset"]), config["experiment"]["seed"])
    x = np.hstack([splits.x_train, np.ones((len(splits.x_train), 1), np.float32)])
    weights, *_ = np.linalg.lstsq(x.astype(np.float64), splits.y_train.astype(np.float64), rcond=None)
    x_test = np.hstack([splits.x_test, np.ones((len(splits.x_test), 1), np.float32)])
    closed = rmse(x_test @ weights, splits.y_test)
    trained = results["test"].get("rmse")
    if trained is None:
        sys.exit("the run's results.json has no test rmse: compile the run with metrics: [rmse]")
    print(f"run: {args.run}")
    print(f"test RMSE, expkit run ({config['compile']['optimizer']['name']}, {results['epochs_run']} epochs): {trained:.4f}")
    print(f"test RMSE, closed-form least squares on the same training split:      {closed:.4f}")
    print(f"ratio run / optimum: {trained / closed:.4f}")
    if config["dataset"]["name"] == "house_prices":
        print(f"noise standard deviation in the data: {config['dataset']['noise'] * HOUSE_PRICE_NOISE_SCALE:.1f}")


if __name__ == "__main__":
    main()

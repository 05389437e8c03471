"""CSV streamed through tf.data (`stream: true`): the in-memory reader's splits and located errors,
bad rows skipped and counted, statistics from one pass, training."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines
from expkit.errors import DataError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    rng = np.random.default_rng(0)
    lines = ["a,row,label"]
    for i in range(90):
        if i == 10:
            lines.append("")  # a blank line: line numbers and row numbers part
        lines.append(f"{rng.normal():.4f}, {i},{'yes' if rng.random() > 0.3 else 'no'}")
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def config(path, **fields):
    return DatasetConfig(**{"name": "csv", "path": str(path), **fields})


def rows_of(dataset):
    pairs = [(x.numpy(), y.numpy()) for x, y in dataset]  # one pass: training batches reshuffle
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


@pytest.mark.parametrize("seed", [0, 3])
def test_streamed_csv_has_the_in_memory_splits(table, seed):
    streamed = load_splits(config(table, stream=True, scale="none"), seed)
    in_memory = load_splits(config(table, scale="none"), seed)
    assert streamed.decoding is not None and streamed.class_names == in_memory.class_names == ["no", "yes"]
    assert streamed.preprocessor.feature_names == ["a", "row"]
    for split, dataset in zip(("train", "val", "test"), make_pipelines(streamed, 8, seed)):
        x, y = rows_of(dataset)
        want_x, want_y = getattr(in_memory, f"x_{split}"), getattr(in_memory, f"y_{split}")
        got, want = np.argsort(x[:, 1]), np.argsort(want_x[:, 1])
        np.testing.assert_allclose(x[got], want_x[want], atol=1e-6)
        np.testing.assert_array_equal(y[got], want_y[want])


def test_streamed_standardize_statistics_match_in_memory(table):
    streamed = load_splits(config(table, stream=True, scale="standardize"), 0)
    in_memory = load_splits(config(table, scale="standardize"), 0)
    np.testing.assert_allclose(streamed.preprocessor.mean, in_memory.preprocessor.mean, rtol=1e-5)
    np.testing.assert_allclose(streamed.preprocessor.std, in_memory.preprocessor.std, rtol=1e-5)


BAD_ROWS = {
    "cells": ("1.0,2,yes,extra", "3 cells, but the header has 3 columns"),
    "text": ("1.0,two,yes", "data row 3, column 'row' holds 'two', not a finite number"),
    "empty": (",2,yes", "data row 3, column 'a' holds an empty cell"),
    "target": ("1.0,2,", "the target column 'label' is empty"),
}


def bad_file(tmp_path, bad: str):
    path = tmp_path / "bad.csv"
    path.write_text(f"a,row,label\n0.5,0,no\n\n0.1,1,yes\n{bad}\n0.2,3,no\n0.3,4,yes\n")
    return path


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_located_as_in_memory(tmp_path, case):
    row, message = BAD_ROWS[case]
    path = bad_file(tmp_path, row)
    with pytest.raises(DataError) as streamed:
        load_splits(config(path, stream=True), 0)
    with pytest.raises(DataError) as in_memory:
        load_splits(config(path), 0)
    if case == "cells":
        message = "4 cells, but the header has 3 columns"
    assert str(streamed.value).startswith(f"{path}:5: {message}")
    assert str(in_memory.value).startswith(f"{path}:5: {message}")
    assert "dataset.skip_corrupt: true" in str(streamed.value)


@pytest.mark.parametrize("stream", [True, False])
def test_skip_corrupt_leaves_bad_rows_out_and_counts_them(tmp_path, stream, capsys):
    path = bad_file(tmp_path, "1.0,two,yes")
    splits = load_splits(config(path, stream=stream, skip_corrupt=True, test_split=0.2, validation_split=0), 0)
    assert len(splits.x_train) + len(splits.x_test) == 4
    assert "1 bad row(s) skipped" in splits.source
    assert f"skipped 1 bad row(s) of 5 in {path}" in capsys.readouterr().out


def test_a_line_break_in_a_quoted_cell_is_refused_when_streaming(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b,label\n1,"2\n",yes\n3,4,no\n')
    with pytest.raises(DataError, match=r"q.csv:2: a quoted cell spans lines 2-3; .* dataset.stream: false"):
        load_splits(config(path, stream=True), 0)


def test_train_on_a_streamed_csv_with_a_disk_cache(table, tmp_path):
    import expkit
    run = expkit.train({"experiment": {"name": "csv", "seed": 0},
                        "dataset": {"name": "csv", "path": str(table), "stream": True, "cache": "disk",
                                    "cache_dir": str(tmp_path / "cache")},
                        "model": {"layers": [{"type": "Dense", "units": 2, "activation": "softmax"}]},
                        "compile": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
                        "training": {"epochs": 2, "batch_size": 16, "verbose": 0}}, runs_dir=tmp_path / "runs")
    results = json.loads((run.path / "results.json").read_text())
    assert "streamed" in results["data_source"] and results["samples"]["train"] == 64
    assert len(list((tmp_path / "cache").glob("train-csv-*.index"))) == 1

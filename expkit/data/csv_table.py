"""CSV datasets: a header row, then one sample per row; every feature column numeric.

The target is the column named (or 0-based indexed; negative counts from the end) by
`dataset.target`, by default the last one. Its task follows this rule:

- any cell that is not a number (e.g. "setosa") -> classification; the classes are the sorted
  distinct values, `class_names` their text;
- every cell an integer written without a decimal point, at most 20 distinct values ->
  classification; the classes are the sorted distinct values (so 0..K-1 stay as they are);
- otherwise -> regression (write 3.0 instead of 3 to force regression on a few integer values).
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData, names_to_indices
from expkit.errors import DataError, suggest

MAX_INTEGER_CLASSES = 20
_INTEGER = re.compile(r"^[+-]?\d+$")


def read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, data rows, their line numbers) of a UTF-8 CSV file; training and predict both read with it."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save the CSV as UTF-8") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    numbered = [(line, row) for line, row in enumerate(rows, start=1) if any(row)]
    if not numbered:
        raise DataError(f"{path}: the CSV file is empty; expected a header row and one row per sample")
    (_, header), body = numbered[0], numbered[1:]
    if not body:
        raise DataError(f"{path}: the CSV file has a header but no data rows")
    for line, row in body:
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} cells, but the header has {len(header)} columns")
    return header, [row for _, row in body], [line for line, _ in body]


def _target_column(path: Path, header: list[str], target: str | int | None) -> int:
    return len(header) - 1 if target is None else column_index(path, header, target, "target")


def column_index(path: Path, header: list[str], wanted: str | int, key: str) -> int:
    """The column `wanted` (a header name, or a 0-based index; negative counts from the end) names,
    for the error messages of dataset.`key`."""
    if isinstance(wanted, int):
        if not -len(header) <= wanted < len(header):
            raise DataError(f"{path}: dataset.{key} {wanted} is out of range: the file has "
                            f"{len(header)} columns (0 to {len(header) - 1}): {', '.join(header)}")
        return wanted % len(header)
    matches = [i for i, name in enumerate(header) if name == wanted]
    if not matches:
        raise DataError(f"{path}: dataset.{key}: no column named '{wanted}'{suggest(wanted, header)}; "
                        f"columns: {', '.join(header)}")
    if len(matches) > 1:
        raise DataError(f"{path}: {len(matches)} columns are named '{wanted}'; rename them or give "
                        f"dataset.{key} as a 0-based index ({', '.join(map(str, matches))})")
    return matches[0]


def weight_column(path: Path, header: list[str], sample_weight: str | int | None, target: int) -> int | None:
    if sample_weight is None:
        return None
    column = column_index(path, header, sample_weight, "sample_weight")
    if column == target:
        raise DataError(f"{path}: dataset.sample_weight and the target are the same column '{header[column]}'; "
                        "name the column of per-example weights")
    return column


def check_width(path: Path, header: list[str], weight: int | None) -> None:
    if len(header) < 2:
        raise DataError(f"{path}: only one column ('{header[0]}'); a CSV dataset needs at least one "
                        "feature column and a target column")
    if weight is not None and len(header) < 3:
        raise DataError(f"{path}: only the columns {', '.join(header)}; with dataset.sample_weight a CSV dataset "
                        "needs at least one feature column besides the target and the weight")


def weight_problem(text: str) -> str | None:
    """Why a weight cell is not a weight (a finite number >= 0), or None."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not np.isfinite(value) or value < 0:
        shown = f"'{text}'" if text else "an empty cell"
        return f"holds {shown}, not a weight (a finite number >= 0)"
    return None


def _weights(path: Path, cells: np.ndarray, name: str, lines: list[int]) -> np.ndarray:
    for row, text in enumerate(cells):
        problem = weight_problem(text)
        if problem:
            raise DataError(f"{path}:{lines[row]}: data row {row + 1}, column '{name}' (dataset.sample_weight) "
                            f"{problem}")
    return cells.astype(np.float32)


def _features(path: Path, cells: np.ndarray, names: list[str], lines: list[int]) -> np.ndarray:
    try:
        x = cells.astype(np.float64)
    except ValueError:
        x = None
    if x is not None and np.isfinite(x).all():
        return x
    for row in range(cells.shape[0]):  # find the first bad cell, for the message
        for column in range(cells.shape[1]):
            message = bad_feature_cell(path, lines[row], row + 1, names[column], cells[row, column])
            if message:
                raise DataError(message)
    raise AssertionError("unreachable: a cell failed to convert but every cell converts")


def bad_feature_cell(path, line: int, row: int, name: str, text: str) -> str | None:
    """The message for a feature cell that is not a finite number (FILE:LINE, row, column), or None."""
    try:
        if math.isfinite(float(text)):
            return None
    except ValueError:
        pass
    shown = f"'{text}'" if text else "an empty cell"
    return (f"{path}:{line}: data row {row}, column '{name}' holds {shown}, not a finite number; feature "
            "columns must be numeric (encode categories as numbers, fill in missing values)")


def _target(path: Path, cells: np.ndarray, name: str, lines: list[int]):
    """(y, task, num_classes, class_names) by the rule in the module docstring."""
    if "" in cells:
        row = int(np.flatnonzero(cells == "")[0])
        raise DataError(f"{path}:{lines[row]}: the target column '{name}' is empty; every row needs a target")
    if all(_INTEGER.match(text) for text in cells):
        values = cells.astype(np.int64)
        if len(np.unique(values)) <= MAX_INTEGER_CLASSES:
            indices, names = names_to_indices(values)
            return indices, CLASSIFICATION, len(names), names
    try:
        return cells.astype(np.float64), REGRESSION, None, None
    except ValueError:
        indices, names = names_to_indices(cells)
        return indices, CLASSIFICATION, len(names), names


def load_csv(path: Path, target: str | int | None, sample_weight: str | int | None = None) -> RawData:
    header, rows, lines = read_rows(path)
    column = _target_column(path, header, target)
    weight = weight_column(path, header, sample_weight, column)
    check_width(path, header, weight)
    cells = np.array(rows, dtype=str)
    feature_columns = [i for i in range(len(header)) if i not in (column, weight)]
    x = _features(path, cells[:, feature_columns], [header[i] for i in feature_columns], lines)
    y, task, num_classes, names = _target(path, cells[:, column], header[column], lines)
    weights = None if weight is None else _weights(path, cells[:, weight], header[weight], lines)
    return RawData(x, y, task, "tabular", f"{path} (target column '{header[column]}', {task})",
                   num_classes=num_classes, class_names=names, feature_names=[header[i] for i in feature_columns],
                   sample_weight=weights)

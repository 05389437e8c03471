"""CSV column groups: `dataset.inputs` / `dataset.targets` name the columns of each named model input and
output, so a CSV feeds a multi-input / multi-output model as an .npz with `<name>_train` arrays does
(`multi.py` splits and feeds them the same way).

An input group's columns are numeric features (float32, as stored). A target given as one column follows
the CSV rule (text or a few integers: class indices; else a float regression target); a list of columns
is a float32 vector.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from expkit.data.csv_table import _features, _target, column_index, read_rows
from expkit.errors import DataError, suggest


def _check_names(path: Path, key: str, given: list[str], wanted: list[str], what: str) -> None:
    for name in given:
        if name not in wanted:
            raise DataError(f"{path}: dataset.{key}: '{name}' is not one of the model's {what}"
                            f"{suggest(name, wanted)}; they are {', '.join(wanted) or 'none'}")
    missing = [n for n in wanted if n not in given]
    if missing:
        raise DataError(f"{path}: dataset.{key} has no column group for the model's {what[:-1]} "
                        f"{', '.join(repr(n) for n in missing)}; add `{missing[0]}: [COLUMN, ...]`")


def _target_groups(data, path: Path, outputs: list[str]) -> dict:
    if data.targets is not None:
        return data.targets
    if len(outputs) != 1:
        raise DataError(f"{path}: the model has {len(outputs)} outputs ({', '.join(outputs)}); give each its "
                        "column(s) in dataset.targets, e.g. {" + f"{outputs[0]}: COLUMN" + "}")
    return {outputs[0]: -1 if data.target is None else data.target}


def read_column_groups(data, inputs: list[str], outputs: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """{'train': {name: array}} for each named input and output, from the CSV file's columns."""
    path = Path(data.path)
    if not inputs:
        raise DataError(f"{path}: dataset.inputs gives column groups to named model inputs, but the model has no "
                        "model.inputs; name them there (e.g. [{name: title}, {name: body}])")
    header, rows, lines = read_rows(path)
    cells = np.array(rows, dtype=str)
    targets = _target_groups(data, path, outputs)
    _check_names(path, "inputs", list(data.inputs), inputs, "inputs")
    _check_names(path, "targets", list(targets), outputs, "outputs")
    arrays, used = {}, {}
    for key, groups in (("inputs", data.inputs), ("targets", targets)):
        for name, columns in groups.items():
            one = not isinstance(columns, list)
            indices = [column_index(path, header, c, f"{key}.{name}") for c in ([columns] if one else columns)]
            for i in indices:
                if i in used and used[i][0] != key:
                    raise DataError(f"{path}: column '{header[i]}' is in dataset.{key}.{name} and in "
                                    f"dataset.{used[i][0]}.{used[i][1]}; a target column cannot also be an input")
                used[i] = (key, name)
            if key == "targets" and one:
                y, _task, _classes, _names = _target(path, cells[:, indices[0]], header[indices[0]], lines)
                arrays[name] = y
            else:
                arrays[name] = _features(path, cells[:, indices], [header[i] for i in indices], lines).astype(np.float32)
    return {"train": arrays}


def group_shapes(data) -> dict[str, tuple[int, ...]]:
    """Each input group's sample shape, without reading the file (for `validate --build`)."""
    return {name: (len(columns),) for name, columns in (data.inputs or {}).items()}

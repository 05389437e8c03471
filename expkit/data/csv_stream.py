"""CSV larger than memory (`stream: true`), and bad rows skipped and counted (`skip_corrupt: true`).

One bounded pass over the file (Python's csv reader, a row at a time) checks every row as the in-memory
reader (`csv_table`) does, with the same `file:line` messages, and keeps only what splitting needs: the
target column's text (its task and classes follow csv_table's rule over all rows, so both paths agree)
and each good row's line number. The splits are taken over row numbers, so they are the in-memory
path's for the same seed. tf.data then reads the file itself: `TextLineDataset` numbers the lines, a
split keeps its own, and `tf.io.decode_csv` parses a block of lines at a time into float32 features.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from expkit.data.csv_table import (_target, _target_column, bad_feature_cell, check_width, load_csv, weight_column,
                                   weight_problem)
from expkit.data.raw import RawData
from expkit.errors import DataError

READ_BLOCK = 1024  # lines parsed per tf.data call


def load_csv_file(path: Path, cfg) -> RawData:
    """The CSV dataset of `cfg`: read whole (csv_table), or scanned and streamed, or scanned and kept."""
    if not cfg.stream and not cfg.skip_corrupt:
        return load_csv(path, cfg.target, cfg.sample_weight)
    scan = scan_csv(path, cfg.target, cfg.sample_weight, skip_corrupt=bool(cfg.skip_corrupt),
                    keep_features=not cfg.stream)
    y, task, num_classes, names = _target(path, np.array(scan.targets, dtype=str), scan.target_name, scan.lines)
    how = "streamed" if cfg.stream else "read"
    note = f", {scan.skipped} bad row(s) skipped" if scan.skipped else ""
    source = f"{path} (target column '{scan.target_name}', {task}, {how}{note})"
    if cfg.stream:
        x = np.arange(len(scan.lines))
        decoding = CsvRows(path, scan.columns, len(scan.header), np.asarray(scan.lines, dtype=np.int64))
    else:
        x, decoding = np.array(scan.features, dtype=np.float64).reshape(len(scan.lines), -1), None
    return RawData(x, y, task, "tabular", source, num_classes=num_classes, class_names=names,
                   feature_names=[scan.header[i] for i in scan.columns], decoding=decoding, skipped=scan.skipped,
                   sample_weight=None if scan.weight is None else np.asarray(scan.weights, dtype=np.float32))


class CsvScan:
    """What the checking pass keeps: the header, the feature columns, and per good row its line, target
    and weight."""

    def __init__(self, header: list[str], columns: list[int], target_name: str, weight: int | None):
        self.header, self.columns, self.target_name, self.weight = header, columns, target_name, weight
        self.lines: list[int] = []
        self.targets: list[str] = []
        self.weights: list[float] = []
        self.features: list[float] = []
        self.skipped = 0


def _bad_cell(path, line, row, cells, header, columns) -> str | None:
    """The in-memory reader's message for the first non-finite feature cell of a row, or None."""
    for column in columns:
        message = bad_feature_cell(path, line, row, header[column], cells[column])
        if message:
            return message
    return None


def _problem(path, line, row, cells, header, columns, target, weight) -> str | None:
    if len(cells) != len(header):
        return f"{path}:{line}: {len(cells)} cells, but the header has {len(header)} columns"
    bad = _bad_cell(path, line, row, cells, header, columns)
    if bad:
        return bad
    if not cells[target]:
        return f"{path}:{line}: the target column '{header[target]}' is empty; every row needs a target"
    problem = None if weight is None else weight_problem(cells[weight])
    if problem:
        return f"{path}:{line}: data row {row}, column '{header[weight]}' (dataset.sample_weight) {problem}"
    return None


def scan_csv(path: Path, target, sample_weight, skip_corrupt: bool, keep_features: bool) -> CsvScan:
    """Check every row, one at a time: the first bad row is an error (exit 2), or skipped and counted."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _scan(path, csv.reader(f), target, sample_weight, skip_corrupt, keep_features)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save the CSV as UTF-8") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None


def _scan(path, reader, target, sample_weight, skip_corrupt, keep_features) -> CsvScan:
    scan, column, row, last_line = None, None, 0, 0
    for raw in reader:
        line = reader.line_num
        if line - last_line > 1 and any(raw):  # a quoted cell holds a line break: lines and rows differ
            raise DataError(f"{path}:{last_line + 1}: a quoted cell spans lines {last_line + 1}-{line}; a streamed "
                            "CSV needs one row per line: remove the line breaks, or set dataset.stream: false")
        last_line = line
        cells = [cell.strip() for cell in raw]
        if not any(cells):
            continue
        if scan is None:
            column = _target_column(path, cells, target)
            weight = weight_column(path, cells, sample_weight, column)
            check_width(path, cells, weight)
            scan = CsvScan(cells, [i for i in range(len(cells)) if i not in (column, weight)], cells[column], weight)
            continue
        row += 1
        problem = _problem(path, line, row, cells, scan.header, scan.columns, column, scan.weight)
        if problem:
            if not skip_corrupt:
                raise DataError(f"{problem} (or set dataset.skip_corrupt: true to train without such rows)")
            scan.skipped += 1
            continue
        scan.lines.append(line)
        scan.targets.append(cells[column])
        if scan.weight is not None:
            scan.weights.append(float(cells[scan.weight]))
        if keep_features:
            scan.features.extend(float(cells[i]) for i in scan.columns)
    if scan is None:
        raise DataError(f"{path}: the CSV file is empty; expected a header row and one row per sample")
    if not scan.lines:
        what = f"all {scan.skipped} data rows are bad" if scan.skipped else "the CSV file has a header but no data rows"
        raise DataError(f"{path}: {what}")
    if scan.skipped:
        print(f"note: skipped {scan.skipped} bad row(s) of {row} in {path}", flush=True)
    return scan


class CsvRows:
    """How row numbers become feature rows: tf.data reads the file's lines and parses those of the rows."""

    def __init__(self, path: Path, columns: list[int], width: int, lines: np.ndarray):
        self.path, self.columns, self.width, self.lines = path, columns, width, lines

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (len(self.columns),)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def key(self) -> str:
        return f"csv-{len(self.columns)}of{self.width}"

    def fingerprint(self, rows) -> str:
        stat = self.path.stat()
        digest = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()
        return f"{self.path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}\t{self.columns}\n{digest}"

    def tf_samples(self, rows, y=None):
        """tf.data of the rows' features (zipped with `y` when given), in file order."""
        import tensorflow as tf

        order = np.argsort(rows, kind="stable")
        wanted = self.lines[np.asarray(rows, dtype=np.int64)]
        member = np.zeros(int(self.lines[-1]) + 1, dtype=bool)
        member[wanted] = True
        member = tf.constant(member)
        size = int(member.shape[0])
        columns, width = list(self.columns), self.width

        def kept(index, _line):  # TextLineDataset's index i is line i + 1
            return tf.logical_and(index + 1 < size, tf.gather(member, tf.minimum(index + 1, size - 1)))

        def parse(lines):
            cells = tf.io.decode_csv(lines, record_defaults=[tf.constant("")] * width)
            return tf.stack([tf.strings.to_number(tf.strings.strip(cells[i]), tf.float32) for i in columns], axis=1)

        samples = (tf.data.TextLineDataset(str(self.path)).enumerate().filter(kept)
                   .map(lambda _index, line: line).batch(READ_BLOCK)
                   .map(parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
                   .apply(tf.data.experimental.assert_cardinality(len(wanted))))
        if y is None:
            return samples
        labels = tf.nest.map_structure(lambda a: np.asarray(a)[order], y)  # y, or (y, sample weights)
        return tf.data.Dataset.zip((samples, tf.data.Dataset.from_tensor_slices(labels)))

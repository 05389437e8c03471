"""tfrecord, before training: the files of the glob, and one pass over their records.

The pass reads every file in batches of records, parses each batch with `tf.io.parse_example` (the
same FixedLenFeature spec the training pipeline uses), and checks labels and weights. It finds:
- the records of each split (how many; and the class counts of an int64 label), so steps per epoch,
  learning-rate schedules and class weights are known before training;
- bad records: not an Example, a feature missing or of the wrong dtype or length, a label out of range,
  a negative or non-finite weight; and files that cannot be read to the end (a truncated file, a CRC
  error). Without `skip_corrupt` the first one stops the run (its file and record index), before the
  run folder exists; with it they are left out and counted.
Memory holds one batch of records and a number per bad record, never the data.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from expkit.errors import DataError

SCAN_BATCH = 1024
KINDS = {"float32": "float_list", "int64": "int64_list", "image": "bytes_list"}  # what an Example stores
KEY_SHIFT = 40  # a record's key: file index << KEY_SHIFT | record index (files of up to 10^12 records)
_GLOB_CHARS = set("*?[")


def glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard: what the files' split keys are relative to."""
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if _GLOB_CHARS & set(p)), len(parts))]]
    root = Path(*fixed) if fixed else Path(".")
    return root if any(_GLOB_CHARS & set(p) for p in parts) else root.parent


def find_files(pattern: str, key: str = "dataset.path") -> list[str]:
    """The files the glob matches, sorted; `**` matches any depth. None: an error naming the folder."""
    files = sorted(f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f))
    if not files:
        root = glob_root(pattern)
        where = (f"in the folder {root}" if root.is_dir()
                 else f"and its folder {root} does not exist")
        raise DataError(f"{key} '{pattern}': no file matches this glob {where}; give a glob of TFRecord "
                        "files relative to the config file's folder, e.g. data/train-*.tfrecord")
    return files


def tf_feature(tf, spec):
    """The FixedLenFeature of a spec entry: an image is one bytes value, decoded after parsing."""
    if spec.dtype == "image":
        return tf.io.FixedLenFeature([], tf.string)
    return tf.io.FixedLenFeature(spec.shape, getattr(tf, spec.dtype))


def image_decoding(spec):
    """How an image feature's bytes become uint8 of its shape: image_folder's decoding (decode, resize)."""
    from expkit.data.image_stream import ImageDecoding
    return ImageDecoding("grayscale" if len(spec.shape) == 2 else "rgb", (int(spec.shape[0]), int(spec.shape[1])))


@dataclass
class Scan:
    """What the pass found. `readable[i]`: records of file i to read (-1: all); `bad`: sorted keys."""

    readable: list[int]
    bad: np.ndarray
    counts: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0, 2: 0})  # split code -> records
    class_counts: dict[int, np.ndarray] = field(default_factory=dict)           # split code -> bincount
    skipped: int = 0
    first_problem: str | None = None


def _problem(record: bytes, features: dict, tf) -> str:
    """Why one record does not parse under the spec, in the spec's words."""
    try:
        example = tf.train.Example.FromString(record)
    except Exception:  # protobuf's DecodeError; its text adds nothing
        return "not a tf.train.Example (the bytes do not parse)"
    have = example.features.feature
    for name, spec in features.items():
        if name not in have:
            return f"no feature '{name}' (it has {', '.join(sorted(have)) or 'none'})"
        kind = have[name].WhichOneof("kind")
        if kind != KINDS[spec.dtype]:
            return f"feature '{name}' holds a {kind}, but the spec says {spec.dtype} ({KINDS[spec.dtype]})"
        count, want = len(getattr(have[name], kind).value), 1 if spec.dtype == "image" else int(np.prod(spec.shape))
        if spec.dtype == "image" and count != 1:
            return f"feature '{name}' holds {count} byte strings, but an image feature holds one encoded image"
        if count != want:
            return f"feature '{name}' holds {count} values, but its shape {list(spec.shape)} needs {want}"
    return "cannot be parsed with the spec"


def _record_batches(path: str, tf):
    """(first record index, batch of serialized records) for a file; then ('broken', index, message) if it
    cannot be read to the end (the records before are still yielded)."""
    done = 0
    try:
        for batch in tf.data.TFRecordDataset(path).batch(SCAN_BATCH).prefetch(2):
            yield done, batch
            done += int(batch.shape[0])
        return
    except tf.errors.DataLossError:
        pass  # a batch is lost whole: read its records one by one to find how far the file is readable
    rest = []
    try:
        for record in tf.data.TFRecordDataset(path).skip(done):
            rest.append(record)
    except tf.errors.DataLossError as error:
        # TensorFlow's text past its op prefix: "truncated record at 4940' failed with Read less bytes ..."
        message = str(error).split("}}")[-1].split("[Op:")[0].strip().replace("' failed with ", ": ") or "unreadable"
        if rest:
            yield done, tf.stack(rest)
        yield "broken", done + len(rest), message


class Scanner:
    """One pass over the files; `check_rows` is given each parsed batch and says which rows are valid."""

    def __init__(self, files, features: dict, split_code, check_rows, skip_corrupt: bool, tf):
        self.files, self.features, self.split_code = files, features, split_code
        self.check_rows, self.skip_corrupt, self.tf = check_rows, skip_corrupt, tf
        self.tf_spec = {n: tf_feature(tf, s) for n, s in features.items()}
        self.images = {n: image_decoding(s) for n, s in features.items() if s.dtype == "image"}

    def run(self, class_label: str | None) -> Scan:
        scan = Scan(readable=[-1] * len(self.files), bad=np.zeros(0, np.int64))
        bad = []
        for index, path in enumerate(self.files):
            for item in _record_batches(path, self.tf):
                if item[0] == "broken":
                    self._fail(scan, path, item[1], f"cannot be read from here on ({item[2]})")
                    scan.readable[index] = item[1]
                    continue
                start, batch = item
                parsed, valid = self._parse(batch, path, start, scan)
                bad += [(index << KEY_SHIFT) | (start + int(i)) for i in np.flatnonzero(~valid)]
                codes = self.split_code(path, np.arange(start, start + len(valid)))
                for code in (0, 1, 2):
                    mine = valid & (codes == code)
                    scan.counts[code] += int(mine.sum())
                    if class_label is not None and mine.any():
                        labels = parsed[class_label].reshape(len(valid))[mine].astype(np.int64)
                        counts = np.bincount(labels)
                        old = scan.class_counts.get(code, np.zeros(0, np.int64))
                        size = max(len(old), len(counts))
                        scan.class_counts[code] = np.pad(old, (0, size - len(old))) + np.pad(counts, (0, size - len(counts)))
        scan.bad = np.array(sorted(bad), dtype=np.int64)
        return scan

    def _parse(self, batch, path: str, start: int, scan: Scan):
        """({feature: array} for the batch (zeros in bad rows), valid rows)."""
        tf = self.tf
        try:
            parsed = {k: v.numpy() for k, v in tf.io.parse_example(batch, self.tf_spec).items()}
            valid = np.ones(int(batch.shape[0]), dtype=bool)
        except tf.errors.InvalidArgumentError:  # some record does not fit the spec: find which, one by one
            parsed = {n: np.zeros((int(batch.shape[0]), *s.shape), np.float32 if s.dtype == "float32" else np.int64)
                      if s.dtype != "image" else np.zeros(int(batch.shape[0]), dtype=object)
                      for n, s in self.features.items()}
            valid = np.zeros(int(batch.shape[0]), dtype=bool)
            for row, record in enumerate(batch.numpy()):
                try:
                    one = tf.io.parse_single_example(record, self.tf_spec)
                except tf.errors.InvalidArgumentError:
                    self._fail(scan, path, start + row, _problem(record, self.features, tf))
                    continue
                valid[row] = True
                for name, value in one.items():
                    parsed[name][row] = value.numpy()
        for name, decoding in self.images.items():
            for row in self._undecodable(parsed[name], valid, decoding):
                valid[row] = False
                self._fail(scan, path, start + row, f"feature '{name}' is not an image TensorFlow can decode "
                           "(PNG, JPEG, GIF or BMP bytes)")
        for row, reason in self.check_rows(parsed, valid):
            valid[row] = False
            self._fail(scan, path, start + row, reason)
        return parsed, valid

    def _undecodable(self, values, valid, decoding) -> list[int]:
        """Rows whose image bytes do not decode: one parallel tf.data pass over the batch, as image_folder's."""
        tf = self.tf
        rows = np.flatnonzero(valid)
        if not rows.size:
            return []
        channels = 1 if decoding.color_mode == "grayscale" else 3

        def readable(row, data):  # the decoded shape: known only by decoding (so the decode is not pruned)
            return row, tf.shape(tf.io.decode_image(data, channels=channels, expand_animations=False))[0]

        dataset = (tf.data.Dataset.from_tensor_slices((rows, list(values[rows])))
                   .map(readable, num_parallel_calls=tf.data.AUTOTUNE)
                   .ignore_errors().map(lambda row, _: row).batch(len(rows)))
        good = {int(r) for batch in dataset.as_numpy_iterator() for r in batch}
        return [int(r) for r in rows if int(r) not in good]

    def _fail(self, scan: Scan, path: str, index: int, reason: str) -> None:
        message = f"{path}: record {index}: {reason}"
        if not self.skip_corrupt:
            raise DataError(f"{message}. Fix the file or dataset.tfrecord.features, or set "
                            "dataset.skip_corrupt: true to train without the bad records")
        scan.skipped += 1
        scan.first_problem = scan.first_problem or message

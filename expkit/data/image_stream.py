"""image_folder, streamed: the files are listed (and split) without decoding; tf.data decodes them.

The listing is the same as the in-memory reader's (classes in sorted order, files sorted by name),
so both give the same splits for the same seed: the splits are taken over the list of paths.
Every file is test-decoded once before training, in parallel by tf.data, so a corrupt image stops
the run before anything is written (or is skipped and counted with `skip_corrupt: true`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expkit.backend import import_keras
from expkit.data.raw import CLASSIFICATION, RawData
from expkit.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class ImageDecoding:
    """How a path becomes one raw sample: uint8 (H, W) for grayscale, (H, W, 3) for rgb."""

    color_mode: str
    size: tuple[int, int]  # (height, width)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.size if self.color_mode == "grayscale" else (*self.size, 3)

    def key(self) -> str:
        return f"{self.color_mode}-{self.size[0]}x{self.size[1]}"

    def tf_decode(self, path):
        """The tf.data map function: a path tensor -> the uint8 image tensor (Keras' own readers)."""
        import tensorflow as tf

        return self.tf_decode_bytes(tf.io.read_file(path))

    def tf_decode_bytes(self, data):
        """Encoded image bytes (PNG, JPEG, GIF, BMP) -> the uint8 image tensor (a file's, or a TFRecord feature's)."""
        import tensorflow as tf

        channels = 1 if self.color_mode == "grayscale" else 3
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        # Same as the in-memory reader without Pillow: bilinear, rounded back to uint8.
        resized = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(image, self.size), 0, 255)), tf.uint8)
        same = tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.constant(self.size)))
        image = tf.cond(same, lambda: image, lambda: resized)
        image = tf.ensure_shape(image, (*self.size, channels))
        return image[..., 0] if channels == 1 else image


def list_image_folder(folder: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """(image paths, int64 class indices, class names): one subfolder per class, both sorted by name."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: an image_folder dataset needs one subfolder per class "
                        f"(e.g. {folder}/cat/001.png, {folder}/dog/001.png); found no subfolders")
    paths, labels = [], []
    for index, name in enumerate(classes):
        images = sorted(p for p in (folder / name).iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise DataError(f"{folder / name}: class folder '{name}' holds no images "
                            f"({', '.join(IMAGE_EXTENSIONS)}); add some or remove the folder")
        paths += images
        labels += [index] * len(images)
    return paths, np.array(labels, dtype=np.int64), classes


def find_corrupt(paths: list[Path], color_mode: str) -> list[int]:
    """Indices of the files TensorFlow cannot decode: one parallel pass, each image decoded and dropped."""
    import_keras()  # imports TensorFlow without its start-up noise
    import tensorflow as tf

    channels = 1 if color_mode == "grayscale" else 3

    def readable(index, path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        return index, tf.shape(image)[0]

    names = tf.constant([str(p) for p in paths])
    dataset = (tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), names))
               .map(readable, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
               .map(lambda index, _: index).batch(4096))
    good = np.zeros(len(paths), dtype=bool)
    for batch in dataset.as_numpy_iterator():
        good[batch] = True
    return np.flatnonzero(~good).tolist()


def stream_image_folder(folder: Path, cfg) -> RawData:
    """RawData whose x arrays are file paths (bytes); `decoding` says how they become images."""
    from expkit.data.files import read_image

    paths, labels, classes = list_image_folder(folder)
    bad = find_corrupt(paths, cfg.color_mode)
    note = ""
    if bad and not cfg.skip_corrupt:
        others = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"{paths[bad[0]]}: cannot read this image{others}. Remove or replace the file, or set "
                        "dataset.skip_corrupt: true to train without it")
    if bad:
        keep = np.setdiff1d(np.arange(len(paths)), bad)
        shown = ", ".join(str(paths[i]) for i in bad[:3]) + (", ..." if len(bad) > 3 else "")
        print(f"note: skipped {len(bad)} corrupt image(s) of {len(paths)}: {shown}", flush=True)
        paths, labels = [paths[i] for i in keep], labels[keep]
        note = f", {len(bad)} corrupt image(s) skipped"
    size = tuple(cfg.image_size) if cfg.image_size else read_image(paths[0], cfg.color_mode, None).shape[:2]
    decoding = ImageDecoding(cfg.color_mode, tuple(int(s) for s in size))
    x = np.array([str(p).encode() for p in paths], dtype=bytes)
    return RawData(x, labels, CLASSIFICATION, "image", f"{folder} (streamed{note})", num_classes=len(classes),
                   class_names=classes, decoding=decoding, skipped=len(bad))

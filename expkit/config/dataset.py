"""The `dataset:` section: where the data comes from and how it is prepared."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from expkit.config.augment import AugmentLayer
from expkit.config.base import KeyProblem, Spec
from expkit.config.tfrecord import TFRecordSpec, check_tfrecord_fields
from expkit.errors import suggest

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
                  "boston_housing", "california_housing")
SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")
SYNTHETIC_DATASETS = ("xor", "moons", "circles", "spirals", "linear", "house_prices", "series")
FILE_DATASETS = ("npz", "npy", "csv", "idx", "image_folder", "tfrecord")
TEXT_DATASETS = ("skipgram",)
DATASET_NAMES = KERAS_DATASETS + SKLEARN_DATASETS + SYNTHETIC_DATASETS + FILE_DATASETS + TEXT_DATASETS

Fraction = Field(ge=0.0, lt=1.0)


class DatasetConfig(Spec):
    name: str = Field(description=(
        "Which data: a Keras built-in (" + ", ".join(KERAS_DATASETS) + "), a scikit-learn set ("
        + ", ".join(SKLEARN_DATASETS) + "), a synthetic set made from the seed ("
        + ", ".join(SYNTHETIC_DATASETS) + "), a file kind (" + ", ".join(FILE_DATASETS)
        + ") read from `path`, or skipgram: word/context pairs from a text (`path` or `corpus`)."))
    path: str | None = Field(None, description=(
        "File datasets and skipgram: the .npz or .csv file, the text file, the folder holding the four IDX .gz files "
        "(train-images-idx3-ubyte.gz, ...), the folder of .npy files (x_train.npy, y_train.npy, ...; memory-mapped), "
        "the image folder (one subfolder per class), or tfrecord's glob of files (data/train-*.tfrecord). "
        "Relative paths are resolved against the config file's folder."))
    target: str | int | None = Field(None, description=(
        "CSV only: the column holding the target, by header name or 0-based index. Default: the last column."))
    inputs: dict[str, list[str | int]] | None = Field(None, description=(
        "CSV only: column groups, one per named model input (model.inputs): {title: [t1, t2], body: [b1, b2, b3]}; "
        "each group's columns (by header name or 0-based index) become that input's features, as stored."))
    targets: dict[str, str | int | list[str | int]] | None = Field(None, description=(
        "CSV with `inputs`: the column (classes or a regression target, by the CSV rule) or columns (a float "
        "vector) of each named model output. Default: the model's one output reads `target`."))
    sample_weight: str | int | None = Field(None, description=(
        "CSV, tfrecord: the column (CSV: by header name or 0-based index) or feature (tfrecord: of shape [] or [1]) "
        "holding each example's weight in the loss (Keras' sample_weight); numbers >= 0; not a feature. "
        "Validation and test metrics are weighted too."))
    samples: PositiveInt = Field(1000, description="Synthetic sets: how many samples to make (train + test).")
    noise: float = Field(0.1, ge=0.0, description=(
        "Synthetic sets: standard deviation of the Gaussian noise added to the inputs (xor, moons, "
        "circles, spirals) or to the target (linear, house_prices)."))
    features: PositiveInt = Field(3, description="Synthetic `linear`: number of input features.")
    test_split: float = Field(0.2, gt=0.0, lt=1.0, description=(
        "Fraction held out as the test split for data that has no test split of its own "
        "(scikit-learn, synthetic, csv, image_folder, npz without x_test)."))
    validation_split: float = Field(0.1, ge=0.0, lt=1.0, description=(
        "Fraction of the training samples (after `limit`) held out for validation; 0 for none. "
        "Ignored when `validation_size` is set or the .npz file has x_val/y_val."))
    validation_size: PositiveInt | None = Field(None, description=(
        "Exact number of training samples held out for validation (overrides validation_split)."))
    limit: PositiveInt | None = Field(None, description="Use only the first N training samples (quick runs).")
    test_limit: PositiveInt | None = Field(None, description="Use only the first N test samples.")
    scale: Literal["auto", "none", "unit", "standardize"] = Field("auto", description=(
        "Input scaling. unit: divide by 255 (images to [0, 1]); standardize: subtract the training "
        "mean and divide by the training standard deviation, per feature; auto: unit for uint8 images, "
        "standardize for tabular float features, none for token sequences."))
    flatten: bool = Field(False, description="Flatten each sample to a vector (e.g. 28x28 -> 784).")
    channel_axis: Literal["auto", "add", "none"] = Field("auto", description=(
        "Add a trailing channel axis to (N, H, W) images. auto: add it when the first layer is a 2-D "
        "convolution or pooling layer."))
    labels: Literal["sparse", "one_hot"] = Field("sparse", description=(
        "Class labels as integers (use sparse_categorical_crossentropy) or one-hot vectors "
        "(use categorical_crossentropy)."))
    num_words: PositiveInt | None = Field(None, description=(
        "imdb/reuters: keep only the N most frequent words (Keras' num_words)."))
    sequence_length: PositiveInt | None = Field(None, description=(
        "imdb/reuters: pad or cut every sequence to this many tokens (required for those sets); series: steps per sample (default 50)."))
    image_size: tuple[PositiveInt, PositiveInt] | None = Field(None, description=(
        "image_folder: resize every image to [height, width]. Default: the size of the first image."))
    color_mode: Literal["grayscale", "rgb"] = Field("rgb", description="image_folder: channels to read.")
    corpus: Literal["kjv"] | None = Field(None, description=(
        "skipgram: a text expkit knows instead of `path`: kjv, the King James Bible (public domain; "
        "apt-get install bible-kjv)."))
    # skipgram's settings default to None (meaning the values below) so that other datasets' resolved
    # configs, and so their hashes and seed groups, stay as they were before these fields existed.
    window: PositiveInt | None = Field(None, description=(
        "skipgram: context words taken on each side of a word (default 2)."))
    negative_samples: int | None = Field(None, ge=0, description=(
        "skipgram: random (negative) contexts per true pair (default 4)."))
    subsample: float | None = Field(None, ge=0.0, description=(
        "skipgram: word2vec's threshold t for dropping frequent words (kept with probability "
        "sqrt(t/f) + t/f); 0 keeps every word (default 1e-4)."))
    cache: bool | Literal["memory", "disk", "none"] = Field(True, description=(
        "Cache of the tf.data pipelines. memory: in RAM; disk: a cache file in `cache_dir`, reused by later runs "
        "on the same files and decoding (a split under 256 MB is also kept in RAM for the run); none: read (and decode) every epoch. true (default): memory, except "
        "for a streamed image_folder whose decoded images would exceed 256 MB (then none); false: none."))
    cache_dir: str | None = Field(None, description=(
        "cache: disk: the folder of the cache files. Default: $EXPKIT_CACHE_DIR, else ~/.cache/expkit/tf_data."))
    stream: bool | None = Field(None, description=(
        "image_folder, csv, npy: read the samples in the tf.data pipeline, batch by batch, so memory does not "
        "grow with the set. image_folder: default true; false reads every image into memory first. csv: "
        "default false (read whole); true checks every row in one pass, then tf.data reads the file. npy: "
        "default true when the x arrays are over 256 MB."))
    skip_corrupt: bool | None = Field(None, description=(
        "image_folder, csv, tfrecord: skip images that cannot be read (CSV rows, TFRecord records that cannot be "
        "parsed) and count them, instead of stopping with an error naming the file (and line or record) "
        "(default false)."))
    tfrecord: TFRecordSpec | None = Field(None, description=(
        "tfrecord: the feature spec of the tf.train.Example records (required for it; see dataset.tfrecord)."))
    augment: list[AugmentLayer] | None = Field(None, description=(  # type: ignore[valid-type]
        "Image augmentation: Keras layers (RandomFlip, RandomRotation, RandomTranslation, RandomZoom, "
        "RandomContrast, RandomBrightness) with Keras' arguments, applied to the training batches only, "
        "on raw pixel values, seeded; never to validation or test data, and not saved in the model."))
    shuffle_buffer: PositiveInt | None = Field(None, description=(
        "Shuffle buffer size; default: the whole training split (a perfect shuffle)."))

    @field_validator("name")
    @classmethod
    def _known_name(cls, value: str) -> str:
        from expkit.config.plugins import plugin_for, plugin_names
        if value not in DATASET_NAMES and plugin_for("datasets", value) is None:
            known = [*DATASET_NAMES, *plugin_names("datasets")]
            raise ValueError(f"unknown dataset '{value}'{suggest(value, known)}; expected one of "
                             + ", ".join(known) + " (or a plugin's: expkit --plugin PATH)")
        return value

    @model_validator(mode="after")
    def _path_only_for_files(self):
        if self.name == "skipgram":
            if bool(self.path) == bool(self.corpus):
                raise ValueError("dataset 'skipgram' reads one text: set dataset.path to a text file, "
                                 "or dataset.corpus to kjv (not both)")
            return self
        if self.corpus:
            raise ValueError(f"dataset.corpus is only used by skipgram; '{self.name}' does not read it")
        for key, readers in (("stream", ("image_folder", "csv", "npy")), ("skip_corrupt", ("image_folder", "csv", "tfrecord"))):
            if getattr(self, key) is not None and self.name not in readers:
                raise KeyProblem(key, f"dataset.{key} is only read by {', '.join(readers)}; "
                                      f"'{self.name}' does not use it")
        for key in ("inputs", "targets"):
            if getattr(self, key) is not None and self.name != "csv":
                raise KeyProblem(key, f"dataset.{key} groups CSV columns; for '{self.name}' name the arrays after "
                                      "the model's inputs and outputs instead (an .npz's <name>_train)")
        if self.targets is not None and self.inputs is None:
            raise KeyProblem("targets", "dataset.targets goes with dataset.inputs (the column groups of the model's "
                                        "named inputs); for one input use dataset.target")
        if self.inputs is not None and (self.stream or self.skip_corrupt or self.sample_weight is not None):
            raise KeyProblem("inputs", "CSV column groups (dataset.inputs) are read into memory, without stream, "
                                       "skip_corrupt or sample_weight; remove those, or dataset.inputs")
        if self.sample_weight is not None and self.name not in ("csv", "tfrecord"):
            raise KeyProblem("sample_weight", f"dataset.sample_weight names a CSV column or TFRecord feature; "
                                              f"'{self.name}' has none "
                                              "(training.class_weight weights classes of any dataset)")
        check_tfrecord_fields(self)
        if self.name in FILE_DATASETS and not self.path:
            raise ValueError(f"dataset '{self.name}' reads a file: set dataset.path to it")
        if self.name not in FILE_DATASETS and self.path:
            raise ValueError(
                f"dataset.path is only used by the file kinds ({', '.join(FILE_DATASETS)}); "
                f"'{self.name}' does not read it. Remove path, or set name to the file kind.")
        if self.name in ("imdb", "reuters") and not self.sequence_length:
            raise ValueError(f"dataset '{self.name}' holds sequences of different lengths: "
                             "set dataset.sequence_length (e.g. 200) so they can be batched")
        return self

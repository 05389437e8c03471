"""`dataset.tfrecord:` the feature spec of TFRecord files of tf.train.Example protos.

Each feature is a fixed-length `tf.io.FixedLenFeature`: a dtype (float32 or int64, the two numeric
kinds an Example stores) and a shape ([] for one value per example, [28, 28] for 784 values stored
flat); or `image`: one bytes value holding an encoded image (PNG, JPEG, GIF, BMP), decoded to uint8
of shape [H, W] (grayscale) or [H, W, 3] (rgb). Variable-length, sparse and ragged features and other
bytes (strings) are not supported.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from expkit.config.base import KeyProblem, Spec
from expkit.errors import suggest


class FeatureSpec(Spec):
    dtype: Literal["float32", "int64", "image"] = Field(description=(
        "What the Example stores: float32 (a float_list), int64 (an int64_list), or image: one encoded image "
        "(PNG, JPEG, GIF, BMP) in a bytes_list, decoded to uint8 and resized (bilinear) to its shape."))
    shape: list[NonNegativeInt] = Field(default_factory=list, description=(
        "Fixed shape of one example's value: [] (default) for one value, [3] for 3 values, [28, 28] for 784 "
        "values stored flat (row-major). Every example must hold exactly this many values. An input of shape [] "
        "reaches the model as [1]. image: [height, width] (grayscale) or [height, width, 3] (rgb)."))

    @model_validator(mode="after")
    def _image_shape(self):
        if self.dtype != "image":
            return self
        if not (len(self.shape) == 2 or (len(self.shape) == 3 and self.shape[2] == 3)) or 0 in self.shape:
            raise KeyProblem("shape", f"an image feature's shape is [height, width] (grayscale) or [height, width, 3] "
                             f"(rgb), got {self.shape}")
        return self


class TFRecordSpec(Spec):
    features: dict[str, FeatureSpec] = Field(description=(
        "Every feature to read, by its key in the Example, with its dtype and shape: the label(s), the "
        "inputs (every feature that is not a label or dataset.sample_weight), and the weight."))
    label: str | list[str] = Field(description=(
        "The feature holding the target, or a list of them for a model with several outputs (each named like "
        "the output in model.outputs). An int64 label of shape [] or [1] holds class indices; float32 is a "
        "regression target."))
    num_classes: PositiveInt | None = Field(None, description=(
        "Number of classes of an int64 label. Default: the largest label in the files plus one."))
    validation: str | None = Field(None, description=(
        "A glob of files that hold the validation split (relative to the config file), instead of holding "
        "validation_split of dataset.path's records out."))
    test: str | None = Field(None, description=(
        "A glob of files that hold the test split (relative to the config file), instead of holding test_split "
        "of dataset.path's records out."))

    @field_validator("features")
    @classmethod
    def _some_features(cls, value):
        if not value:
            raise ValueError("dataset.tfrecord.features is empty: name at least an input and a label, e.g. "
                             "{x: {dtype: float32, shape: [4]}, y: {dtype: int64}}")
        return value

    @property
    def labels(self) -> list[str]:
        return [self.label] if isinstance(self.label, str) else list(self.label)

    @model_validator(mode="after")
    def _labels_are_features(self):
        for name in self.labels:
            if name not in self.features:
                raise KeyProblem("label", f"dataset.tfrecord.label '{name}' is not one of the features"
                                 f"{suggest(name, list(self.features))}; the features are {', '.join(self.features)}")
        if any(self.features[name].dtype == "image" for name in self.labels):
            raise KeyProblem("label", "dataset.tfrecord.label names an image feature; a label is a float32 or int64 "
                             "feature")
        if len(set(self.labels)) != len(self.labels):
            raise KeyProblem("label", "dataset.tfrecord.label names a feature twice")
        if self.num_classes is not None and not self._class_label():
            raise KeyProblem("num_classes", "dataset.tfrecord.num_classes is for one int64 label of shape [] or [1] "
                             "(class indices); remove it")
        return self

    def _class_label(self) -> bool:
        if len(self.labels) != 1:
            return False
        spec = self.features[self.labels[0]]
        return spec.dtype == "int64" and spec.shape in ([], [1])

    @property
    def classification(self) -> bool:
        """One int64 label of shape [] or [1]: class indices (sparse, or one-hot with dataset.labels)."""
        return self._class_label()

    def inputs(self, sample_weight) -> list[str]:
        """The features that feed the model: every one that is not a label or the weight, in spec order."""
        return [n for n in self.features if n not in self.labels and n != sample_weight]


def check_tfrecord_fields(dataset) -> None:
    """The dataset section's keys that only tfrecord reads, or that it cannot honour."""
    if dataset.name != "tfrecord":
        if dataset.tfrecord is not None:
            raise KeyProblem("tfrecord", f"dataset.tfrecord is only read by tfrecord; '{dataset.name}' does not use it")
        return
    spec = dataset.tfrecord
    if spec is None:
        raise KeyProblem("name", "dataset 'tfrecord' needs its feature spec: dataset.tfrecord: {features: {x: "
                         "{dtype: float32, shape: [4]}, y: {dtype: int64}}, label: y}")
    if dataset.validation_size is not None:
        raise KeyProblem("validation_size", "dataset.validation_size asks for an exact count, but tfrecord holds "
                         "records out by hashing their position as it reads them; use validation_split instead")
    weight = dataset.sample_weight
    if weight is not None:
        if not isinstance(weight, str) or weight not in spec.features:
            raise KeyProblem("sample_weight", f"dataset.sample_weight '{weight}' is not one of the features"
                             f"{suggest(weight, list(spec.features))} in dataset.tfrecord.features")
        if weight in spec.labels:
            raise KeyProblem("sample_weight", f"dataset.sample_weight '{weight}' is also the label; "
                             "weight the examples by another feature")
        if spec.features[weight].shape not in ([], [1]):
            raise KeyProblem("sample_weight", f"dataset.sample_weight '{weight}' has shape "
                             f"{spec.features[weight].shape}; a weight is one value per example: shape [] or [1]")
    if not spec.inputs(weight):
        raise KeyProblem("tfrecord", "dataset.tfrecord.features has no input: every feature is a label or the "
                         "sample weight; add the feature(s) the model reads")
    if dataset.target is not None:
        raise KeyProblem("target", "dataset.target is not read by tfrecord: dataset.tfrecord.label names the target")

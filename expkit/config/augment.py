"""`dataset.augment:`: Keras' image augmentation layers, by class name with Keras' own arguments.

They run in the training pipeline only (on the CPU, batch by batch, seeded), on raw pixel values
(0..255); validation and test data are never augmented and the saved model does not contain them.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, PositiveInt, model_validator

from expkit.config.base import Spec

Factor = float | tuple[float, float]
FillMode = Literal["reflect", "wrap", "constant", "nearest"]
Interpolation = Literal["nearest", "bilinear"]
ValueRange = tuple[float, float]


class AugmentSpec(Spec):
    seed: int | None = Field(None, ge=0, description=(
        "Seed of this layer's randomness; default: experiment.seed plus the layer's position."))

    def keras_kwargs(self) -> dict:
        kwargs = self.model_dump(exclude={"type", "seed"})
        return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items() if v is not None}


class _Spatial(AugmentSpec):
    fill_mode: FillMode = Field("reflect", description="How points outside the input are filled.")
    interpolation: Interpolation = Field("bilinear", description="nearest or bilinear.")
    fill_value: float = Field(0.0, description="The value of fill_mode: constant.")


class RandomFlipAugment(AugmentSpec):
    type: Literal["RandomFlip"] = Field(description="keras.layers.RandomFlip.")
    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = Field(
        "horizontal_and_vertical", description="Which flips to make at random.")


class RandomRotationAugment(_Spatial):
    type: Literal["RandomRotation"] = Field(description="keras.layers.RandomRotation.")
    factor: Factor = Field(description=(
        "Rotation range as a fraction of a full turn: 0.1 is up to 36 degrees either way; [-0.1, 0.05] a range."))


class RandomTranslationAugment(_Spatial):
    type: Literal["RandomTranslation"] = Field(description="keras.layers.RandomTranslation.")
    height_factor: Factor = Field(description="Vertical shift as a fraction of the height (0.1 or [-0.1, 0.2]).")
    width_factor: Factor = Field(description="Horizontal shift as a fraction of the width.")


class RandomZoomAugment(_Spatial):
    type: Literal["RandomZoom"] = Field(description="keras.layers.RandomZoom.")
    height_factor: Factor = Field(description="Zoom range as a fraction of the height: 0.2 is 20% in or out.")
    width_factor: Factor | None = Field(None, description="Zoom range of the width; default: keep the aspect ratio.")


class RandomContrastAugment(AugmentSpec):
    type: Literal["RandomContrast"] = Field(description="keras.layers.RandomContrast.")
    factor: Factor = Field(description="Contrast changes by a random factor in [1 - factor, 1 + factor].")
    value_range: ValueRange = Field((0.0, 255.0), description="Range of the pixel values (raw: 0..255).")


class RandomBrightnessAugment(AugmentSpec):
    type: Literal["RandomBrightness"] = Field(description="keras.layers.RandomBrightness.")
    factor: Factor = Field(description="Brightness shift as a fraction of value_range, e.g. 0.2 or [-0.2, 0.1].")
    value_range: ValueRange = Field((0.0, 255.0), description="Range of the pixel values (raw: 0..255).")


class RandomCropAugment(AugmentSpec):
    type: Literal["RandomCrop"] = Field(description="keras.layers.RandomCrop.")
    height: PositiveInt = Field(description="Height of the crop.")
    width: PositiveInt = Field(description="Width of the crop.")

    @model_validator(mode="after")
    def _changes_the_size(self):
        raise ValueError("RandomCrop makes training images smaller than the validation, test and served ones, "
                         "which the model could then not read; use RandomTranslation (a shifted window of the "
                         "same size) or RandomZoom instead")


AugmentLayer = Annotated[
    Union[RandomFlipAugment, RandomRotationAugment, RandomTranslationAugment, RandomZoomAugment,
          RandomContrastAugment, RandomBrightnessAugment, RandomCropAugment],
    Field(discriminator="type")]

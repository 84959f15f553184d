"""Everything about one synthetic image that is decided before rendering: person, head, view, captions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.data.synthetic.attributes import Attributes, Holdout, is_held_out, sample_attributes
from pipelines.data.synthetic.captions import captions
from pipelines.data.synthetic.head_sampler import sample_head_params

YAW_STD, YAW_LIMIT = 0.3, 0.7
"""Yaw ~ N(0, 0.3 rad) clipped to +-0.7 rad (+-40 degrees): mostly near-frontal, like FFHQ."""
PITCH_STD, PITCH_LIMIT = 0.12, 0.3
"""EG3D pitch ~ N(0, 0.12) clipped to +-0.3 (elevation is about 0.64 x pitch, so about +-11 degrees)."""


@dataclass(frozen=True)
class ImageSpec:
    """One planned image."""

    index: int
    attributes: Attributes
    head: np.ndarray
    """(P,) float32 head parameter row."""
    yaw: float
    """Orbit yaw in radians (EG3D sense; positive moves the camera toward the subject's left, +x)."""
    pitch: float
    """Orbit pitch in radians (EG3D sense; positive moves the camera below the head)."""
    captions: list[str]
    parts: list[dict[str, str]]
    split: str


def plan_image(seed: int, index: int, holdout: Holdout, test_fraction: float) -> ImageSpec:
    """Draw image `index` of the set with root `seed` (depends on nothing else, so any order is fine)."""
    rng = np.random.default_rng([seed, index])
    attributes = sample_attributes(rng)
    head = sample_head_params(attributes, rng)
    yaw = float(np.clip(rng.normal(0.0, YAW_STD), -YAW_LIMIT, YAW_LIMIT))
    pitch = float(np.clip(rng.normal(0.0, PITCH_STD), -PITCH_LIMIT, PITCH_LIMIT))
    test = bool(rng.random() < test_fraction)
    texts, parts = captions(attributes, rng)
    split = "ood_test" if is_held_out(attributes, holdout) else ("test" if test else "train")
    return ImageSpec(index, attributes, head, yaw, pitch, texts, parts, split)

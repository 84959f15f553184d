"""One split of a synthetic dataset folder in memory, and the augmentations the encoder trainers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.errors import InvalidInputError

MIRRORED_CLASSES = {4: 5, 5: 4, 6: 7, 7: 6, 8: 9, 9: 8}
"""CelebAMask-HQ classes that swap under a horizontal flip (left/right eyes, brows and ears)."""


@dataclass
class SplitData:
    """Images, label maps, captions and attributes of one split.

    images: (N, 3, R, R) uint8; labels: (N, R, R) uint8 CelebAMask-HQ classes (None unless asked for).
    """

    images: Tensor
    captions: list[list[str]]
    attributes: list[dict[str, Any]]
    parts: list[list[dict[str, str]]] = field(default_factory=list)
    """Per image, per caption: the {part: phrase} the caption mentions."""
    labels: Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.images.shape[0]


def load_split(
    root: str | Path, split: str, max_resolution: int | None = None, labels: bool = False, limit: int = 0
) -> SplitData:
    """Read one split of a dataset folder into memory.

    Args:
        root: the dataset folder (`tg3dface prepare synthetic`).
        split: "train", "test" or "ood_test".
        max_resolution: shrink larger images (area filter) to this side, to save memory; smaller ones are
            kept as they are (an encoder's preprocessing enlarges them as it does at inference).
        labels: also load the parsing label maps (images are then kept at the data's own resolution).
        limit: keep only the first `limit` records (0 keeps all).
    """
    from pipelines.data.dataset import read_dataset

    info = read_dataset(root)
    records = info.split(split)[: limit or None]
    if not records:
        raise InvalidInputError(f"{root}: the {split} split is empty")
    images = torch.from_numpy(np.stack([info.load_image(r) for r in records])).permute(0, 3, 1, 2)
    if max_resolution is not None and images.shape[-1] > max_resolution:
        if labels:
            raise InvalidInputError(
                f"{root}: images are {images.shape[-1]} px; the parser trains at the data's own resolution"
            )
        images = F.interpolate(images.float(), size=(max_resolution, max_resolution), mode="area")
        images = images.round().clamp(0, 255).to(torch.uint8)
    label_maps = torch.from_numpy(np.stack([info.load_parsing(r) for r in records])) if labels else None
    return SplitData(
        images=images.contiguous(),
        captions=[r["captions"] for r in records],
        attributes=[r.get("attributes", {}) for r in records],
        parts=[r["parts"] for r in records],
        labels=label_maps,
    )


def to_unit_range(images: Tensor) -> Tensor:
    """(N, 3, H, W) uint8 -> float in [-1, 1] (the toolkit's image convention)."""
    return images.float() / 127.5 - 1.0


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of one training step: every draw is a function of (seed, step), so resuming a run
    at step k reproduces the uninterrupted run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def random_affine(
    images: Tensor,
    generator: torch.Generator,
    max_shift: float,
    max_scale: float,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Random horizontal flip and a small shift and zoom per image (no colour change: colours are labels).

    Args:
        images: (N, 3, H, W) float in [-1, 1].
        generator: the step's CPU generator.
        max_shift: largest shift as a fraction of the image side.
        max_scale: largest relative zoom in or out.
        labels: optional (N, H, W) integer label maps, moved the same way (nearest neighbour, left/right
            classes swapped where flipped).

    Returns:
        images (N, 3, H, W) and labels (N, H, W) or None. Pixels moved in from outside repeat the border.
    """
    count = images.shape[0]
    flip = torch.rand(count, generator=generator) < 0.5
    scale = 1.0 + (torch.rand(count, generator=generator) * 2 - 1) * max_scale
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * max_shift * 2  # grid units span 2
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -1.0, 1.0) / scale
    theta[:, 1, 1] = 1.0 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False).to(images.device)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if labels is None:
        return moved, None
    sampled = F.grid_sample(
        labels[:, None].float(), grid, mode="nearest", padding_mode="border", align_corners=False
    )[:, 0].long()
    mirrored = sampled.clone()
    for source, target in MIRRORED_CLASSES.items():
        mirrored[sampled == source] = target
    return moved, torch.where(flip.to(sampled.device)[:, None, None], mirrored, sampled)

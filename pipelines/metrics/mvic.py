"""Multi-view identity consistency (DESIGN §7): identity cosine between the frontal render and the yaw
±15° / ±30° renders of the same sample, over the pairs where both faces are found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pipelines.metrics.identity import IdentityModel

MVIC_YAWS = (-30.0, -15.0, 15.0, 30.0)
"""Side views compared with the frontal one (degrees, pitch 0)."""


def multiview_identity(
    model: IdentityModel,
    frontal: Tensor,
    views: dict[float, Tensor],
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """MVIC of N samples.

    Args:
        frontal: (N, 3, H, W) uint8 frontal renders.
        views: yaw (degrees) -> (N, 3, H, W) uint8 renders of the same samples.

    Returns:
        {"mean": mean cosine over all pairs (None when no pair had both faces), "per_yaw": {yaw: mean},
        "pairs": pairs scored, "no_face_rate": share of all renders in which no face was found,
        "identity_model": the model's name}.
    """

    def embed(images: Tensor) -> list[Tensor | None]:
        found = [model.embed(image.permute(1, 2, 0).numpy()) for image in images]
        if advance:
            advance(len(found))
        return found

    reference = embed(frontal)
    misses = sum(e is None for e in reference)
    cosines: dict[float, list[float]] = {}
    for yaw, images in views.items():
        embeddings = embed(images)
        misses += sum(e is None for e in embeddings)
        cosines[yaw] = [
            float(torch.dot(a, b))
            for a, b in zip(reference, embeddings, strict=True)
            if a is not None and b is not None
        ]
    everything = [c for values in cosines.values() for c in values]
    total = len(reference) * (1 + len(views))
    return {
        "mean": _mean(everything),
        "per_yaw": {f"{yaw:+.0f}": _mean(values) for yaw, values in cosines.items()},
        "pairs": len(everything),
        "no_face_rate": round(misses / max(total, 1), 6),
        "identity_model": model.name,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None

"""Multi-view identity consistency (DESIGN §7): identity cosine between the frontal render and the yaw
±15° / ±30° renders of the same sample, over the pairs where both faces are found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pipelines.metrics.identity import IdentityModel

MVIC_YAWS = (-30.0, -15.0, 15.0, 30.0)
"""Side views compared with the frontal one (degrees, pitch 0)."""

Embedding = Tensor | None
"""A (D,) unit identity embedding, or None where no face was found."""


@dataclass(frozen=True)
class SweepEmbeddings:
    """Identity embeddings of N samples' frontal and side views."""

    frontal: list[Embedding]
    """N frontal embeddings."""
    views: dict[float, list[Embedding]]
    """yaw (degrees) -> N embeddings of the same samples' side views."""
    identity_model: str
    """The identity model's name."""

    def consistency(self, partner: Tensor | None = None) -> dict[str, Any]:
        """MVIC: mean cosine of each frontal embedding with the side views of the same sample.

        Args:
            partner: (N,) optional: compare frontal i with the side views of sample partner[i] instead (with
                a derangement, the score of different identities: the floor).

        Returns:
            {"mean": mean cosine over all pairs (None when no pair had both faces), "per_yaw": {yaw: mean},
            "pairs": pairs scored, "no_face_rate": share of all renders in which no face was found,
            "identity_model": the model's name}.
        """
        order = range(len(self.frontal)) if partner is None else partner.tolist()
        cosines = {
            yaw: [
                float(torch.dot(self.frontal[i], embeddings[j]))
                for i, j in enumerate(order)
                if self.frontal[i] is not None and embeddings[j] is not None
            ]
            for yaw, embeddings in self.views.items()
        }
        everything = [c for values in cosines.values() for c in values]
        renders = [self.frontal, *self.views.values()]
        misses = sum(e is None for embeddings in renders for e in embeddings)
        return {
            "mean": _mean(everything),
            "per_yaw": {f"{yaw:+.0f}": _mean(values) for yaw, values in cosines.items()},
            "pairs": len(everything),
            "no_face_rate": round(misses / max(sum(map(len, renders)), 1), 6),
            "identity_model": self.identity_model,
        }


def embed_views(
    model: IdentityModel,
    frontal: Tensor,
    views: dict[float, Tensor],
    advance: Callable[[int], None] | None = None,
) -> SweepEmbeddings:
    """Identity embeddings of N samples' renders.

    Args:
        frontal: (N, 3, H, W) uint8 frontal renders.
        views: yaw (degrees) -> (N, 3, H, W) uint8 renders of the same samples.
        advance: called with the number of images embedded after each view.
    """

    def embed(images: Tensor) -> list[Embedding]:
        found = [model.embed(image.permute(1, 2, 0).numpy()) for image in images]
        if advance:
            advance(len(found))
        return found

    return SweepEmbeddings(embed(frontal), {yaw: embed(images) for yaw, images in views.items()}, model.name)


def multiview_identity(
    model: IdentityModel,
    frontal: Tensor,
    views: dict[float, Tensor],
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """MVIC of N samples (arguments: `embed_views`; the result: `SweepEmbeddings.consistency`)."""
    return embed_views(model, frontal, views, advance).consistency()


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None

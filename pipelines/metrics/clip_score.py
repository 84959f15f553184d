"""CLIP score (DESIGN §7): mean cosine similarity between E_img(image) and E_txt(caption)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pipelines.core.encoders import ClipEncoder


@dataclass(frozen=True)
class ClipScore:
    """The CLIP score of N image–caption pairs."""

    mean_cosine: float
    """Mean cosine similarity in [-1, 1]."""
    num_pairs: int

    @property
    def score(self) -> float:
        """The usual ×100 figure."""
        return 100.0 * self.mean_cosine

    def to_dict(self) -> dict[str, float | int]:
        return {
            "mean_cosine": round(self.mean_cosine, 6),
            "score": round(self.score, 4),
            "num_pairs": self.num_pairs,
        }


def pair_cosines(image_features: Tensor, text_features: Tensor, partner: Tensor | None = None) -> Tensor:
    """Cosine similarity of image i with caption i (or caption partner[i]).

    Args:
        image_features: (N, D). text_features: (N, D).
        partner: (N,) long, e.g. a derangement for shuffled pairs.

    Returns:
        (N,) cosines.
    """
    texts = text_features if partner is None else text_features[partner]
    return torch.nn.functional.cosine_similarity(image_features.float(), texts.float(), dim=-1)


def clip_score(image_features: Tensor, text_features: Tensor, partner: Tensor | None = None) -> ClipScore:
    """The CLIP score of paired features (N, D) and (N, D) (see `pair_cosines`)."""
    cosines = pair_cosines(image_features, text_features, partner)
    return ClipScore(float(cosines.mean()), int(cosines.shape[0]))


@torch.no_grad()
def encode_images(encoder: ClipEncoder, images: Tensor, batch_size: int) -> Tensor:
    """(N, 3, H, W) uint8 images -> (N, D) unit image features (on the CPU)."""
    device = encoder.device
    chunks = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device).float() / 127.5 - 1.0
        chunks.append(encoder.encode_image(batch).cpu())
    return torch.cat(chunks)


def encode_texts(encoder: ClipEncoder, texts: Sequence[str], batch_size: int) -> Tensor:
    """N captions -> (N, D) unit text features (on the encoder's device)."""
    return torch.cat(
        [encoder.encode_text(list(texts[s : s + batch_size])) for s in range(0, len(texts), batch_size)]
    )

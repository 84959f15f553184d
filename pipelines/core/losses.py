"""Training losses (DESIGN §5.1): adversarial, R1, density regularisation, and the two alignment losses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.parsing import part_mask

FieldFn = Callable[[Tensor], Tensor]
"""Maps (N, M, 3) points to raw densities (N, M, 1)."""


def generator_adversarial(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def discriminator_adversarial(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Logistic discriminator loss: mean softplus(D(fake)) + softplus(-D(real))."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_logits: Tensor, inputs: Sequence[Tensor]) -> Tensor:
    """Sum over `inputs` of the per-sample squared gradient norm of sum(D(real)), averaged over the batch.

    Multiply by gamma / 2 (and the lazy interval) for the R1 loss; EG3D's dual discriminator penalises the
    image and the raw image together.
    """
    gradients = torch.autograd.grad(real_logits.sum(), list(inputs), create_graph=True)
    return sum(g.square().flatten(1).sum(dim=1) for g in gradients).mean()


def density_regularization(
    field: FieldFn, points: Tensor, perturbation: float, generator: torch.Generator
) -> Tensor:
    """EG3D's L1 density smoothness: |sigma(x) - sigma(x + eps)|, eps ~ N(0, perturbation^2).

    Args:
        field: raw densities of the generator's field at (N, M, 3) points.
        points: (N, M, 3) sample points.
        perturbation: standard deviation of the offset, in world units.
        generator: the random source of the offsets.
    """
    offsets = (
        torch.randn(points.shape, generator=generator, device=generator.device).to(points) * perturbation
    )
    densities = field(torch.cat([points, points + offsets], dim=1))
    first, second = densities.chunk(2, dim=1)
    return (first - second).abs().mean()


def contrastive_loss(
    image_features: Tensor,
    text_features: Tensor,
    temperature: float,
    groups: Tensor | None = None,
    positives: Tensor | None = None,
) -> Tensor:
    """Symmetric InfoNCE between L2-normalised image and text features of one batch.

    L = 1/2 (CE over texts for each image + CE over images for each text). Text i is the pair of image i.
    Rows that share a caption (equal `groups` ids) count as positives of each other rather than as
    negatives; `positives` states every true pairing instead. Texts beyond the N pairs (e.g. hard negatives)
    only join the texts each image chooses among.

    Args:
        image_features: (N, D). text_features: (T, D), T >= N (T == N unless `positives` is given).
        temperature: tau.
        groups: (N,) integer ids of the texts; defaults to all distinct.
        positives: (N, T) bool, True where text t describes image n (the diagonal must be True).

    Returns:
        A scalar; it is log(N) for features that carry no information and falls toward 0 as pairs align.
    """
    count = image_features.shape[0]
    image_features = F.normalize(image_features.float(), dim=-1)
    text_features = F.normalize(text_features.float(), dim=-1)
    logits = image_features @ text_features.t() / temperature
    if positives is None:
        if groups is None:
            groups = torch.arange(count, device=logits.device)
        positives = groups[:, None] == groups[None, :]

    def cross_entropy(scores: Tensor, mask: Tensor) -> Tensor:
        # -log of the softmax mass on the positives of each row
        return (
            torch.logsumexp(scores, dim=1) - torch.logsumexp(scores.masked_fill(~mask, -torch.inf), dim=1)
        ).mean()

    image_to_text = cross_entropy(logits, positives)
    text_to_image = cross_entropy(logits[:, :count].t(), positives[:, :count].t())
    return 0.5 * (image_to_text + text_to_image)


def fine_grained_loss(
    encode_image: Callable[[Tensor], Tensor],
    images: Tensor,
    probabilities: Tensor,
    part_embeddings: dict[str, tuple[Tensor, Tensor, Tensor]],
    temperature: float,
) -> Tensor:
    """The fine-grained alignment loss: each named part of a render against its phrase, across the batch.

    Args:
        encode_image: the frozen image tower, (N, 3, H, W) in [-1, 1] -> (N, D).
        images: (N, 3, H, W) renders in [-1, 1].
        probabilities: (N, 19, H, W) parser output for the renders (or one-hot ground truth).
        part_embeddings: part name -> (rows (K,) indices into the batch of the samples whose caption names
            the part, phrase embeddings (K, D), phrase ids (K,) equal for equal phrases).
        temperature: tau of the InfoNCE.

    Returns:
        The mean over parts named by at least two samples with two different phrases (0 when none are).
    """
    losses = []
    for part, (rows, embeddings, phrase_ids) in part_embeddings.items():
        if rows.numel() < 2 or phrase_ids.unique().numel() < 2:
            continue
        mask = part_mask(probabilities[rows], part)
        if mask.shape[-1] != images.shape[-1]:
            mask = F.interpolate(mask, size=images.shape[-2:], mode="bilinear", align_corners=False)
        masked = images[rows] * mask  # everything outside the part becomes mid-grey (0 in [-1, 1])
        losses.append(contrastive_loss(encode_image(masked), embeddings, temperature, phrase_ids))
    if not losses:
        return images.new_zeros(())
    return torch.stack(losses).mean()

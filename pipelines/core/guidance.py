"""Directional CLIP guidance of a latent (DESIGN §5.2), shared by `generate --guidance` and `edit`.

Given a text direction dt = E_txt(target) - E_txt(source) and the image features of a reference render, a
few Adam steps on w minimise 1 - cos(E_img(G(w)) - E_img(reference), dt) + reg * mean((w - w0)^2), so the
render moves along the direction in CLIP space while the latent stays near where it started.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.generator import TriPlaneGenerator


@dataclass(frozen=True)
class GuidanceConfig:
    """How a latent is steered along a CLIP direction."""

    steps: int = 0
    """Adam steps K (0 = no guidance)."""
    lr: float = 0.02
    """Adam step size on w."""
    reg: float = 0.5
    """Weight of the mean squared distance to the starting latent."""
    space: str = "w"
    """'w' (one latent broadcast to every layer) or 'w+' (one per layer)."""
    neutral_prompt: str = "a photo of a face"
    """The source text of `generate --guidance` (t0 of DESIGN §5.2)."""


def directional_loss(features: Tensor, reference: Tensor, direction: Tensor) -> Tensor:
    """(N,) 1 - cos(features - reference, direction) for (N, D) image features, references and directions."""
    return 1 - F.cosine_similarity(features - reference, direction, dim=-1)


def guide(
    generator: TriPlaneGenerator,
    encode_image,
    ws: Tensor,
    camera: Tensor,
    direction: Tensor,
    reference: Tensor,
    config: GuidanceConfig,
) -> Tensor:
    """Steer ws (N, num_ws, w_dim) along `direction` (N, D) away from `reference` features (N, D).

    Args:
        generator: a frozen generator.
        encode_image: (N, 3, H, W) in [-1, 1] -> (N, D) image features (differentiable).
        ws: starting latents; camera: (N, 25) the view that is scored.
        config: steps, step size, regulariser and latent space.

    Returns:
        The guided ws (N, num_ws, w_dim), detached.
    """
    if config.steps <= 0:
        return ws
    if config.space not in ("w", "w+"):
        raise ValueError(f"guidance space {config.space!r}: expected w or w+")
    start = ws.detach()
    variable = (start[:, :1] if config.space == "w" else start).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([variable], lr=config.lr)
    with torch.enable_grad():
        for _ in range(config.steps):
            current = variable.expand_as(start)
            image = generator.synthesis(current, camera)["image"]
            loss = directional_loss(encode_image(image), reference, direction)
            loss = loss + config.reg * (current - start).square().mean(dim=(1, 2))
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
    return variable.detach().expand_as(start).clone()


def guide_from_neutral(
    generator: TriPlaneGenerator,
    encoder,
    z: Tensor,
    camera: Tensor,
    text: Tensor,
    ws: Tensor,
    neutral: Tensor,
    config: GuidanceConfig,
    truncation: float = 1.0,
) -> Tensor:
    """Directional guidance of sampled latents (DESIGN §5.2): from the neutral render toward the prompt.

    Args:
        encoder: the model's text-image encoder (encode_image differentiable).
        z: (N, z_dim) the samples' noise; camera: (N, 25) the scored view; text: (N, D) prompt features.
        ws: (N, num_ws, w_dim) the sampled latents; neutral: (1, D) features of the neutral prompt t0.
        truncation: the sampling's truncation psi (the neutral render uses the same).

    Returns:
        The guided ws (N, num_ws, w_dim); `ws` itself when config.steps is 0.
    """
    if config.steps <= 0:
        return ws
    neutral = neutral.expand(len(z), -1)
    neutral_avg = generator.mean_w(neutral[:1]).expand(len(z), -1) if truncation != 1.0 else None
    with torch.no_grad():
        reference_ws = generator.map(z, camera, neutral, truncation, neutral_avg)
        reference = encoder.encode_image(generator.synthesis(reference_ws, camera)["image"]).float()
    return guide(generator, encoder.encode_image, ws, camera, text - neutral, reference, config)

"""GAN inversion of one aligned photo with a known camera (DESIGN §5.3): w, then w+, then optional
pivotal tuning of the generator around the found latent.

The loss is pixel MSE on the final and raw images plus a perceptual term: 1 - cosine similarity of the
image-text encoder's image features (an offline perceptual network: the toolkit's own encoder).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.generator import TriPlaneGenerator

StepFn = Callable[[str, int, float], None]
"""on_step(phase, step, loss)."""


@dataclass(frozen=True)
class InversionConfig:
    """Steps and weights of the three phases."""

    w_steps: int = 200
    """Steps optimising one w for every layer."""
    wplus_steps: int = 200
    """Steps optimising one w per layer (w+), starting from the w result; 0 stays in w."""
    lr: float = 0.01
    """Peak Adam step size of the latent phases (linear ramp-up over 5%, cosine ramp-down over 25%)."""
    perceptual: float = 1.0
    """Weight of the encoder-feature term."""
    raw: float = 1.0
    """Weight of the raw-render MSE against the downsampled photo."""
    pti_steps: int = 0
    """Pivotal tuning steps on the generator weights (0 = off)."""
    pti_lr: float = 3e-4
    """Adam step size of pivotal tuning."""


def reconstruction_loss(
    out: dict[str, Tensor], target: Tensor, encode_image, config: InversionConfig
) -> Tensor:
    """Pixel + raw + perceptual loss of generator outputs against a target (1, 3, R, R) in [-1, 1]."""
    loss = F.mse_loss(out["image"], target)
    if config.raw:
        raw_target = F.interpolate(target, size=out["image_raw"].shape[-2:], mode="area")
        loss = loss + config.raw * F.mse_loss(out["image_raw"], raw_target)
    if config.perceptual:
        features = encode_image(torch.cat([out["image"], target]))
        loss = loss + config.perceptual * (1 - F.cosine_similarity(features[:1], features[1:]).mean())
    return loss


def _learning_rate(step: int, total: int, peak: float) -> float:
    t = step / max(total, 1)
    ramp_down = min(1.0, (1.0 - t) / 0.25)
    ramp_down = 0.5 - 0.5 * math.cos(ramp_down * math.pi)
    return peak * ramp_down * min(1.0, t / 0.05 + 1e-3)


def invert_latent(
    generator: TriPlaneGenerator,
    encode_image,
    target: Tensor,
    camera: Tensor,
    w_start: Tensor,
    config: InversionConfig,
    on_step: StepFn | None = None,
) -> Tensor:
    """Optimise a latent to reproduce `target` (1, 3, R, R) from `camera` (1, 25).

    Args:
        w_start: (1, w_dim) the starting w (e.g. the average w of a prompt).

    Returns:
        ws (1, num_ws, w_dim): the w result broadcast, refined per layer when wplus_steps > 0.
    """
    num_ws = generator.num_ws
    with torch.enable_grad():
        w = w_start.detach().clone()[:, None].requires_grad_(True)
        _optimise(
            generator,
            encode_image,
            target,
            camera,
            w,
            lambda v: v.expand(-1, num_ws, -1),
            config.w_steps,
            config,
            "w",
            on_step,
        )
        ws = w.detach().expand(-1, num_ws, -1).clone().requires_grad_(True)
        _optimise(
            generator,
            encode_image,
            target,
            camera,
            ws,
            lambda v: v,
            config.wplus_steps,
            config,
            "w+",
            on_step,
        )
    return ws.detach()


def _optimise(
    generator, encode_image, target, camera, variable, expand, steps, config, phase, on_step
) -> None:
    optimizer = torch.optim.Adam([variable], lr=config.lr, betas=(0.9, 0.999))
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, config.lr)
        loss = reconstruction_loss(
            generator.synthesis(expand(variable), camera), target, encode_image, config
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if on_step:
            on_step(phase, step, float(loss.detach()))


def pivotal_tuning(
    generator: TriPlaneGenerator,
    encode_image,
    target: Tensor,
    camera: Tensor,
    ws: Tensor,
    config: InversionConfig,
    on_step: StepFn | None = None,
) -> TriPlaneGenerator:
    """A copy of the generator fine-tuned so that the pivot ws reproduces the target (PTI)."""
    tuned = copy.deepcopy(generator).train().requires_grad_(True)
    optimizer = torch.optim.Adam(tuned.parameters(), lr=config.pti_lr)
    with torch.enable_grad():
        for step in range(config.pti_steps):
            loss = reconstruction_loss(tuned.synthesis(ws, camera), target, encode_image, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if on_step:
                on_step("pti", step, float(loss.detach()))
    return tuned.eval().requires_grad_(False)


def psnr(a: Tensor, b: Tensor) -> float:
    """PSNR in dB of two images in [-1, 1] (peak-to-peak 2)."""
    mse = F.mse_loss(a.float().clamp(-1, 1), b.float().clamp(-1, 1)).item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)

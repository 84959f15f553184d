"""Rendering a generator's evaluation samples: one view per prompt (FID, CLIP, attributes) or a yaw sweep
(MVIC, view-warp). Everything is moved to the CPU as it is produced, so large evaluations fit in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.samples import view_camera
from pipelines.metrics.sampling import EvalPrompt

Advance = Callable[[int], None]
Steer = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""(z (N, z_dim), camera (N, 25), text (N, D), ws (N, num_ws, w_dim)) -> steered ws, e.g. guidance."""


@dataclass
class ViewSweep:
    """Renders of N samples at several yaws (pitch 0), all conditioned on the frontal camera."""

    images: dict[float, Tensor]
    """yaw (degrees) -> (N, 3, R, R) final images in [-1, 1]."""
    raw_images: dict[float, Tensor]
    """yaw -> (N, 3, r, r) raw renders in [-1, 1] at the neural rendering resolution."""
    depth: dict[float, Tensor]
    """yaw -> (N, 1, r, r) distance along each ray."""
    opacity: dict[float, Tensor]
    """yaw -> (N, 1, r, r) accumulated opacity."""
    cameras: dict[float, Tensor]
    """yaw -> (1, 25) camera label."""


def to_uint8(images: Tensor) -> Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, 3, H, W) uint8, as written to PNG."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _latents(generator: TriPlaneGenerator, prompts: Sequence[EvalPrompt], device: torch.device) -> Tensor:
    """(N, z_dim) z of the prompts' seeds (the same z as `generate` gives each seed)."""
    from pipelines.generate import sample_z

    return torch.cat([sample_z(p.seed, generator.config.mapping.z_dim) for p in prompts]).to(device)


@torch.no_grad()
def render_prompts(
    generator: TriPlaneGenerator,
    text: Tensor,
    prompts: Sequence[EvalPrompt],
    batch_size: int,
    advance: Advance | None = None,
    steer: Steer | None = None,
) -> Tensor:
    """Render each prompt from its own camera, the mapping conditioned on that camera (as EG3D's FID does).

    Args:
        text: (N, D) the model encoder's features of the prompts' captions.
        steer: optional, applied to the mapped latents before rendering (directional guidance).

    Returns:
        (N, 3, R, R) uint8 images on the CPU.
    """
    device = text.device
    images = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        camera = torch.tensor([p.camera for p in batch], dtype=torch.float32, device=device)
        z, batch_text = _latents(generator, batch, device), text[start : start + len(batch)]
        ws = generator.map(z, camera, batch_text)
        if steer is not None:
            ws = steer(z, camera, batch_text, ws)
        images.append(to_uint8(generator.synthesis(ws, camera)["image"]).cpu())
        if advance:
            advance(len(batch))
    return torch.cat(images)


@torch.no_grad()
def render_sweep(
    generator: TriPlaneGenerator,
    text: Tensor,
    prompts: Sequence[EvalPrompt],
    yaws: Sequence[float],
    batch_size: int,
    advance: Advance | None = None,
    steer: Steer | None = None,
) -> ViewSweep:
    """Render each prompt's sample at every yaw (degrees, pitch 0) from one set of tri-planes (latents
    optionally steered at the frontal view)."""
    device = text.device
    cameras = {yaw: view_camera(generator, yaw, 0.0).to(device) for yaw in yaws}
    frontal = generator.frontal_camera(1)
    parts: dict[str, dict[float, list[Tensor]]] = {
        k: {y: [] for y in yaws} for k in ("image", "image_raw", "image_depth", "image_opacity")
    }
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        n = len(batch)
        z, camera = _latents(generator, batch, device), frontal.expand(n, -1)
        batch_text = text[start : start + n]
        ws = generator.map(z, camera, batch_text)
        if steer is not None:
            ws = steer(z, camera, batch_text, ws)
        planes = generator.triplanes(ws)
        for yaw in yaws:
            out = generator.render(planes, ws, cameras[yaw].expand(n, -1))
            for key, store in parts.items():
                store[yaw].append(out[key].float().cpu())
        if advance:
            advance(n)
    joined = {key: {yaw: torch.cat(chunks) for yaw, chunks in store.items()} for key, store in parts.items()}
    return ViewSweep(
        images=joined["image"],
        raw_images=joined["image_raw"],
        depth=joined["image_depth"],
        opacity=joined["image_opacity"],
        cameras={yaw: camera.cpu() for yaw, camera in cameras.items()},
    )

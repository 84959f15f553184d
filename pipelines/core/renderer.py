"""Tri-plane sampling and importance-sampled volume rendering (EG3D-style, pure PyTorch)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.config import RendererConfig
from pipelines.core.layers import fast_softplus

# Each plane keeps two world axes: xy, xz and zy (DESIGN §4).
PLANE_AXES = ((0, 1), (0, 2), (2, 1))

DecodeFn = Callable[[Tensor], tuple[Tensor, Tensor]]
"""Maps (N, M, 3) world points to raw densities (N, M, 1) and features (N, M, F)."""


def sample_triplanes(planes: Tensor, points: Tensor, box_warp: float) -> Tensor:
    """Bilinearly sample three feature planes at 3D points and average them.

    Args:
        planes: (N, 3, C, P, P) the xy, xz and zy planes; plane pixel (row i, col j) covers the second axis
            at row i and the first axis at column j.
        points: (N, M, 3) world coordinates; the planes span [-box_warp/2, box_warp/2] on every axis, and
            points outside read zero features.
        box_warp: side of the cube.

    Returns:
        (N, M, C) features.
    """
    n, _, channels, _, _ = planes.shape
    normalized = points * (2.0 / box_warp)
    coords = torch.stack([normalized[..., list(axes)] for axes in PLANE_AXES], dim=1)  # (N, 3, M, 2)
    sampled = F.grid_sample(
        planes.reshape(n * 3, channels, planes.shape[-2], planes.shape[-1]),
        coords.reshape(n * 3, 1, -1, 2).to(planes.dtype),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # (N*3, C, 1, M)
    return sampled.reshape(n, 3, channels, -1).mean(dim=1).transpose(1, 2)


def composite(
    features: Tensor, densities: Tensor, depths: Tensor, density_bias: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Alpha-composite samples along rays using interval midpoints (EG3D's MipRayMarcher2).

    Args:
        features: (N, R, S, C) features at S samples on R rays.
        densities: (N, R, S, 1) raw densities (before the softplus activation).
        depths: (N, R, S, 1) sample depths, increasing along S.
        density_bias: added to raw densities before softplus.

    Returns:
        features (N, R, C), depth (N, R, 1), weights (N, R, S - 1, 1). The weights sum to the opacity.
    """
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    features_mid = (features[:, :, :-1] + features[:, :, 1:]) / 2
    densities_mid = (densities[:, :, :-1] + densities[:, :, 1:]) / 2
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    sigma = fast_softplus(densities_mid + density_bias)
    alpha = 1 - torch.exp(-sigma * deltas)
    transmittance = torch.cumprod(
        torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], dim=2), dim=2
    )
    weights = alpha * transmittance[:, :, :-1]
    composite_features = (weights * features_mid).sum(dim=2)
    opacity = weights.sum(dim=2)
    depth = (weights * depths_mid).sum(dim=2) / opacity.clamp_min(1e-10)
    depth = torch.nan_to_num(depth, nan=float("inf")).clamp(depths.min(), depths.max())
    return composite_features, depth, weights


def stratified_depths(
    n: int, rays: int, config: RendererConfig, device: torch.device, generator: torch.Generator | None
) -> Tensor:
    """(N, R, S, 1) depths: S bins between ray_start and ray_end, one sample in each.

    With a generator the sample is uniform within its bin (training); without, it is the bin's centre,
    which makes inference deterministic.
    """
    samples = config.samples_coarse
    edges = torch.linspace(config.ray_start, config.ray_end, samples + 1, device=device)[:-1]
    width = (config.ray_end - config.ray_start) / samples
    if generator is None:
        offsets = torch.full((n, rays, samples), 0.5, device=device)
    else:
        offsets = torch.rand((n, rays, samples), generator=generator, device=generator.device).to(device)
    return (edges + offsets * width)[..., None]


def sample_pdf(bins: Tensor, weights: Tensor, count: int, generator: torch.Generator | None) -> Tensor:
    """Inverse-CDF sampling of `count` depths per ray from piecewise-constant weights.

    Args:
        bins: (B, K + 1) bin edges, increasing.
        weights: (B, K) non-negative weights of the bins.
        count: samples per ray.
        generator: random uniforms when given; evenly spaced quantiles otherwise.

    Returns:
        (B, count) depths.
    """
    pdf = weights / weights.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)], dim=-1)
    if generator is None:
        u = torch.linspace(0.0, 1.0, count + 2, device=bins.device)[1:-1].expand(bins.shape[0], count)
    else:
        u = torch.rand((bins.shape[0], count), generator=generator, device=generator.device).to(bins.device)
    u = u.contiguous()
    above = torch.searchsorted(cdf.detach(), u, right=True).clamp(1, cdf.shape[-1] - 1)
    below = above - 1
    cdf_below, cdf_above = cdf.gather(1, below), cdf.gather(1, above)
    bins_below, bins_above = bins.gather(1, below), bins.gather(1, above)
    span = (cdf_above - cdf_below).clamp_min(1e-5)
    return bins_below + (u - cdf_below) / span * (bins_above - bins_below)


def importance_depths(
    depths: Tensor, weights: Tensor, count: int, generator: torch.Generator | None
) -> Tensor:
    """(N, R, count, 1) extra depths drawn where the coarse pass found density.

    The coarse weights (N, R, S - 1, 1) belong to the S - 1 intervals between coarse depths; as in EG3D
    they are smoothed with a max-pool then an average-pool and floored by 0.01 before sampling.
    """
    n, rays, samples, _ = depths.shape
    flat_depths = depths.reshape(n * rays, samples)
    flat_weights = weights.detach().reshape(n * rays, 1, samples - 1)
    smoothed = F.max_pool1d(F.pad(flat_weights, (1, 1), mode="replicate"), 2, 1)
    smoothed = F.avg_pool1d(smoothed, 2, 1).squeeze(1) + 0.01  # (B, S - 1)
    fine = sample_pdf(flat_depths, smoothed, count, generator)
    return fine.reshape(n, rays, count, 1)


def render_rays(
    decode: DecodeFn,
    origins: Tensor,
    directions: Tensor,
    config: RendererConfig,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Render rays through a field: stratified pass, importance pass, composite of both sorted together.

    Args:
        decode: the field, see DecodeFn.
        origins: (N, R, 3). directions: (N, R, 3) unit vectors.
        config: sampling settings.
        generator: jitters the samples when given (training); deterministic without.

    Returns:
        features (N, R, F), depth (N, R, 1), opacity (N, R, 1).
    """
    n, rays, _ = origins.shape

    def evaluate(depths: Tensor) -> tuple[Tensor, Tensor]:
        points = origins[:, :, None] + depths * directions[:, :, None]  # (N, R, S, 3)
        samples = depths.shape[2]
        densities, features = decode(points.reshape(n, rays * samples, 3))
        return features.reshape(n, rays, samples, -1), densities.reshape(n, rays, samples, 1)

    depths = stratified_depths(n, rays, config, origins.device, generator)
    features, densities = evaluate(depths)
    if config.samples_fine > 0:
        _, _, weights = composite(features, densities, depths, config.density_bias)
        fine_depths = importance_depths(depths, weights, config.samples_fine, generator)
        fine_features, fine_densities = evaluate(fine_depths)
        depths, order = torch.sort(torch.cat([depths, fine_depths], dim=2), dim=2)
        features = torch.gather(
            torch.cat([features, fine_features], dim=2), 2, order.expand(-1, -1, -1, features.shape[-1])
        )
        densities = torch.gather(torch.cat([densities, fine_densities], dim=2), 2, order)
    features, depth, weights = composite(features, densities, depths, config.density_bias)
    return features, depth, weights.sum(dim=2)

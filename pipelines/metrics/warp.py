"""View-warp consistency: a 3D-consistency score that needs no face model (DESIGN §7).

The source view (the frontal render) is lifted to 3D with its own depth, each point is projected into the
target view, and the target's colour there is compared with the source colour where the point is visible
in the target (inside the image, surrounded by foreground so the bilinear lookup does not blend in the
background, and not occluded: the target's own depth agrees with the distance to the point). A perfectly
3D-consistent renderer scores L1 = 0 and an unbounded PSNR, up to the bilinear resampling of the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.cameras import generate_rays, project_points, split_label


@dataclass
class RenderedView:
    """One rendered view of N scenes; all maps share the square resolution H = W."""

    image: Tensor
    """(N, C, H, W) colours in [-1, 1]."""
    depth: Tensor
    """(N, 1, H, W) distance along each pixel-centre ray (EG3D's `image_depth`)."""
    mask: Tensor
    """(N, 1, H, W) bool, True where the pixel shows the scene (its depth is meaningful)."""
    camera: Tensor
    """(N, 25) camera labels."""


@dataclass(frozen=True)
class WarpScores:
    """Per-scene scores of one source -> target warp."""

    psnr: Tensor
    """(N,) PSNR in dB of the colours (mapped to [0, 1]) over the visible pixels; inf when identical."""
    l1: Tensor
    """(N,) mean absolute colour difference in [0, 1] units over the visible pixels."""
    coverage: Tensor
    """(N,) share of the source's foreground pixels that are visible in the target."""


def correspondences(source: RenderedView, target: RenderedView, tolerance: float) -> tuple[Tensor, Tensor]:
    """Where each source pixel lands in the target, and whether it is visible there.

    Args:
        tolerance: largest |target depth − distance to the point| (world units) still counted visible.

    Returns:
        grid (N, H, W, 2) in grid_sample's [-1, 1] convention (align_corners=False), and visible (N, H, W).
    """
    n, _, height, width = source.depth.shape
    origins, directions = generate_rays(source.camera.to(source.depth.dtype), height)
    points = origins + directions * source.depth.reshape(n, -1, 1)
    uv = project_points(points, target.camera.to(points.dtype))  # (N, HW, 2) in [0, 1]
    grid = (uv * 2 - 1).reshape(n, height, width, 2)
    # background pixels have no 3D point (their projection may be inf or nan): send them outside the image
    grid = torch.where(source.mask[:, 0, :, :, None] & grid.isfinite(), grid, torch.full_like(grid, 2.0))
    # every pixel the bilinear lookup touches must be foreground, or silhouettes blend in background colour
    target_mask = _sample(target.mask.to(source.depth.dtype), grid, "bilinear")[:, 0] > 1 - 1e-4
    target_depth = _sample(target.depth, grid, "bilinear")[:, 0]
    target_origin = split_label(target.camera.to(points.dtype))[0][:, None, :3, 3]
    distance = (points - target_origin).norm(dim=-1).reshape(n, height, width)
    inside = (grid.abs() <= 1).all(dim=-1)
    visible = source.mask[:, 0] & inside & target_mask & ((target_depth - distance).abs() <= tolerance)
    return grid, visible


def warp_consistency(source: RenderedView, target: RenderedView, tolerance: float = 0.02) -> WarpScores:
    """Compare the source colours with the target colours at the source's 3D points (see module doc)."""
    grid, visible = correspondences(source, target, tolerance)
    warped = _sample(target.image.to(grid.dtype), grid, "bilinear")
    difference = ((warped - source.image.to(grid.dtype)) / 2).abs()  # [-1, 1] -> [0, 1] units
    difference = torch.where(visible[:, None], difference, torch.zeros_like(difference))
    count = (visible.sum(dim=(1, 2)) * difference.shape[1]).clamp(min=1)
    l1 = difference.sum(dim=(1, 2, 3)) / count
    mse = difference.square().sum(dim=(1, 2, 3)) / count
    psnr = torch.where(mse > 0, -10 * torch.log10(mse.clamp(min=1e-20)), torch.full_like(mse, math.inf))
    foreground = source.mask[:, 0].sum(dim=(1, 2)).clamp(min=1)
    coverage = visible.sum(dim=(1, 2)) / foreground
    no_overlap = visible.sum(dim=(1, 2)) == 0
    nan = torch.full_like(l1, math.nan)
    return WarpScores(
        torch.where(no_overlap, nan, psnr), torch.where(no_overlap, nan, l1), coverage.to(l1.dtype)
    )


def _sample(values: Tensor, grid: Tensor, mode: str) -> Tensor:
    """values (N, C, H, W) at grid (N, H', W', 2) -> (N, C, H', W'); outside the image gives 0."""
    return F.grid_sample(values, grid.to(values.dtype), mode=mode, padding_mode="zeros", align_corners=False)

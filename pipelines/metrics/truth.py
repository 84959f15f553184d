"""Ground truth of a synthetic data set at any camera: each record's own head, sphere-traced (DESIGN §6, §7).

A synthetic record stores its head's parameter row (`head`), so the very head behind an image can be
rendered from cameras the data set never used. The ground-truth references of `warp` and `mvic` render the
evaluation prompts' heads at the model's view sweep; a single-view reconstruction of a data set image can be
scored against the true novel views of the same head.

Depth and opacity follow the generator's `image_depth` / `image_opacity`, so the same code scores both:
depth is the distance in world units along each pixel-centre unit ray (`cameras.generate_rays`) to the
surface, opacity is 1 where that ray hits the head and 0 where it misses (the depth there is 0 and
meaningless, where the generator's is its far bound).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pipelines.data.dataset import RECORDS_FILE, DatasetInfo
from pipelines.data.synthetic.params import params_from_dict
from pipelines.data.synthetic.render import HeadRenderer, one_thread
from pipelines.errors import InvalidInputError
from pipelines.metrics.renders import ViewSweep


@dataclass(frozen=True)
class TrueViews:
    """One view of each of N true heads (CPU tensors)."""

    images: Tensor
    """(N, 3, H, W) uint8, shaded and supersampled as the data set's own images are."""
    depth: Tensor
    """(N, 1, H, W) float32 distance (world units) along each pixel-centre ray to the head; 0 on misses."""
    opacity: Tensor
    """(N, 1, H, W) float32: 1 where the pixel-centre ray hits the head, 0 where it misses."""
    parsing: Tensor
    """(N, H, W) uint8 CelebAMask-HQ label of the part each pixel-centre ray hits (0 on misses)."""


def true_heads(info: DatasetInfo, records: Sequence[dict[str, Any]]) -> Tensor:
    """(N, P) float32 head parameter rows of a synthetic data set's records.

    Raises:
        InvalidInputError: the data set is not synthetic, or a record lacks its head parameters.
    """
    if not info.is_synthetic:
        raise InvalidInputError(f"{info.root}: not a synthetic data set (no true heads to render)")
    rows = [params_from_dict(r.get("head", {}), f"{info.root / RECORDS_FILE} id {r['id']}") for r in records]
    return torch.from_numpy(np.stack(rows))


def render_true_views(
    info: DatasetInfo,
    records: Sequence[dict[str, Any]],
    cameras: Tensor,
    resolution: int | None = None,
    supersample: int | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
) -> TrueViews:
    """Render the true head of each record from a camera.

    Args:
        info: a synthetic data set. records: N >= 1 of its records.
        cameras: (N, 25) EG3D camera labels, one per record, or (1, 25) for all of them.
        resolution: image side in pixels (default: the data set's).
        supersample: K x K colour samples per pixel (default: the data set's); depth and opacity always come
            from the pixel-centre rays.
        device: where rays are traced.
        batch_size: heads traced together.

    Raises:
        InvalidInputError: see `true_heads`.
    """
    heads = true_heads(info, records)
    cameras = cameras.float().cpu().expand(len(records), -1)
    resolution = resolution or info.resolution
    if supersample is None:
        supersample = int(info.manifest.get("synthetic", {}).get("supersample", 1))
    renderer = HeadRenderer(device=str(device))
    images, depth, opacity, parsing = [], [], [], []
    with one_thread():
        for start in range(0, len(records), batch_size):
            batch = slice(start, start + batch_size)
            out = renderer.render(heads[batch], cameras[batch], resolution, supersample)
            hit = out.depth.isfinite()[:, None]
            images.append(out.rgb_uint8().permute(0, 3, 1, 2))
            depth.append(torch.where(hit, out.depth[:, None], 0.0))
            opacity.append(hit.float())
            parsing.append(out.parsing)
    return TrueViews(*(torch.cat(maps) for maps in (images, depth, opacity, parsing)))


def true_sweep(
    info: DatasetInfo,
    records: Sequence[dict[str, Any]],
    cameras: Mapping[float, Tensor],
    depth_resolution: int,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
    advance: Callable[[int], None] | None = None,
) -> ViewSweep:
    """The true heads of `records` at a view sweep, in the form `renders.render_sweep` gives a generator's.

    Args:
        cameras: yaw (degrees) -> (1, 25) camera label (e.g. a model sweep's `cameras`).
        depth_resolution: side of `raw_images`, `depth` and `opacity` (a model's neural rendering
            resolution); `images` are at the data set's resolution.
        advance: called with len(records) after each yaw.
    """
    parts: dict[str, dict[float, Tensor]] = {key: {} for key in ("images", "raw_images", "depth", "opacity")}
    for yaw, camera in cameras.items():
        final = render_true_views(info, records, camera, None, None, device, batch_size)
        raw = (
            final
            if depth_resolution == info.resolution
            else render_true_views(info, records, camera, depth_resolution, None, device, batch_size)
        )
        parts["images"][yaw] = final.images.float() / 127.5 - 1
        parts["raw_images"][yaw] = raw.images.float() / 127.5 - 1
        parts["depth"][yaw], parts["opacity"][yaw] = raw.depth, raw.opacity
        if advance:
            advance(len(records))
    return ViewSweep(**parts, cameras={yaw: camera.cpu() for yaw, camera in cameras.items()})

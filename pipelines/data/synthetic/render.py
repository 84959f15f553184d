"""Sphere tracing of a batch of heads from EG3D-convention cameras: RGB, exact labels and depth.

Every ray carries the index of its head, so a batch of heads is one SDF call per step; rays that finish are
dropped from the active set each step. The SDF evaluations can run through `torch.compile` (one-off
compile, then many times faster per call) or eagerly (no warm-up: right for a handful of images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor

from pipelines.core.cameras import DEFAULT_FOCAL, generate_rays
from pipelines.data.synthetic.head import head_components, head_sdf
from pipelines.data.synthetic.params import HeadParams
from pipelines.data.synthetic.shading import shade

BOUND_CENTRE = (0.0, -0.06, -0.02)
BOUND_RADIUS = 0.56
"""A sphere holding every head, neck and the visible shoulders; rays leaving it miss."""
PIVOT_DISTANCE = 2.5
"""Camera-to-pivot distance of EG3D's default orbit, for sizing the hit threshold."""


@dataclass(frozen=True)
class TraceSettings:
    """How rays are marched."""

    max_steps: int = 96
    """Sphere-tracing steps before a ray is given up (near misses are accepted on the last step)."""
    relax: float = 0.92
    """Step = relax * distance (the blended SDF is not quite 1-Lipschitz)."""
    hit_fraction: float = 0.08
    """A ray hits when the distance is below this fraction of a pixel's footprint at the pivot."""
    refine_steps: int = 3
    """Plain SDF steps after a hit, pulling overshoots back onto the surface; a ray whose point is then
    still farther than the hit threshold from the surface is a miss."""
    normal_epsilon: float = 0.0012
    """Finite-difference offset for normals, in world units."""


@dataclass
class RenderOutput:
    """What one batch render returns (CPU tensors)."""

    rgb: Tensor
    """(B, H, W, 3) float32 in [0, 1]."""
    parsing: Tensor
    """(B, H, W) uint8 CelebAMask-HQ labels of the surface each pixel-centre ray hit (0 where none)."""
    depth: Tensor
    """(B, H, W) float32 distance along the unit ray from the camera centre to the hit; inf on background."""

    def rgb_uint8(self) -> Tensor:
        """(B, H, W, 3) uint8 colours, rounded as the data set's PNGs store them."""
        return (self.rgb * 255.0 + 0.5).to(torch.uint8)


@contextmanager
def one_thread() -> Iterator[None]:
    """Render single-threaded: sphere tracing is thousands of small kernel calls, and OpenMP barriers on
    a busy machine made them up to 25x slower (measured); parallelism comes from worker processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sdf(x: Tensor, y: Tensor, z: Tensor, head_index: Tensor, params_t: Tensor) -> Tensor:
    return head_sdf(x, y, z, HeadParams(params_t, head_index))


def _march(
    ox: Tensor, oy: Tensor, oz: Tensor, dx: Tensor, dy: Tensor, dz: Tensor,
    t: Tensor, head_index: Tensor, params_t: Tensor, relax: float, epsilon: float,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One sphere-tracing step: rays closer than epsilon stay put, the others advance at least epsilon
    (so rays grazing a surface do not creep along it)."""
    d = _sdf(ox + dx * t, oy + dy * t, oz + dz * t, head_index, params_t)
    return t + torch.where(d < epsilon, 0.0, (d * relax).clamp(min=epsilon)), d


def _components(
    x: Tensor, y: Tensor, z: Tensor, head_index: Tensor, params_t: Tensor
) -> tuple[Tensor, Tensor]:
    return head_components(x, y, z, HeadParams(params_t, head_index))


@dataclass(frozen=True)
class _Kernels:
    sdf: Callable[..., Tensor]
    march: Callable[..., tuple[Tensor, Tensor]]
    components: Callable[..., tuple[Tensor, Tensor]]


@cache
def _kernels(compiled: bool) -> _Kernels:
    if not compiled:
        return _Kernels(_sdf, _march, _components)
    return _Kernels(*(torch.compile(fn, dynamic=True) for fn in (_sdf, _march, _components)))


def _columns(points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return points[:, 0].contiguous(), points[:, 1].contiguous(), points[:, 2].contiguous()


class HeadRenderer:
    """Renders batches of head parameter rows from camera labels."""

    def __init__(
        self, compiled: bool = False, settings: TraceSettings | None = None, device: str = "cpu"
    ) -> None:
        self.kernels = _kernels(compiled)
        self.settings = settings or TraceSettings()
        self.device = torch.device(device)

    def sdf(self, points: Tensor, head_index: Tensor, params: Tensor) -> Tensor:
        """(N,) signed distances of world `points` (N, 3) to heads `head_index` (N,) of `params` (B, P)."""
        return self.kernels.sdf(*_columns(points), head_index, params.T.contiguous())

    def render(self, params: Tensor, cameras: Tensor, resolution: int, supersample: int = 1) -> RenderOutput:
        """Render B heads, each from its own camera.

        Args:
            params: (B, P) head parameter rows. cameras: (B, 25) EG3D camera labels.
            resolution: output side in pixels. supersample: K > 1 renders RGB at K x K samples per pixel
                and box-filters it; labels and depth always come from the pixel-centre rays.
        """
        params = params.to(self.device, torch.float32)
        cameras = cameras.to(self.device, torch.float32)
        rgb, parsing, depth = self._render(params, cameras, resolution)
        if supersample > 1:
            fine, _, _ = self._render(params, cameras, resolution * supersample)
            rgb = torch.nn.functional.avg_pool2d(fine.permute(0, 3, 1, 2), supersample).permute(0, 2, 3, 1)
        return RenderOutput(rgb.clamp(0.0, 1.0).cpu(), parsing.cpu(), depth.cpu())

    def _render(self, params: Tensor, cameras: Tensor, resolution: int) -> tuple[Tensor, Tensor, Tensor]:
        batch = params.shape[0]
        origins, directions = generate_rays(cameras, resolution)
        origins, directions = origins.reshape(-1, 3).contiguous(), directions.reshape(-1, 3).contiguous()
        head_index = torch.arange(batch, device=self.device).repeat_interleave(resolution * resolution)
        params_t = params.T.contiguous()
        epsilon = self.settings.hit_fraction * PIVOT_DISTANCE / (DEFAULT_FOCAL * resolution)
        t, hit = self._trace(origins, directions, head_index, params_t, epsilon)
        rows = ((torch.arange(resolution, device=self.device) + 0.5) / resolution).repeat_interleave(
            resolution
        )
        rows = rows.repeat(batch)[:, None]
        g = HeadParams(params_t, head_index)
        top, bottom = g.colour("bg_top"), g.colour("bg_bottom")
        rgb = top * (1.0 - rows) + bottom * rows
        labels = torch.zeros(rgb.shape[0], dtype=torch.long, device=self.device)
        depth = torch.full((rgb.shape[0],), float("inf"), device=self.device)
        hits = hit.nonzero().squeeze(1)
        t_hit, on_surface = self._refine(
            origins[hits], directions[hits], t[hits], head_index[hits], params_t, epsilon
        )
        hits, t_hit = hits[on_surface], t_hit[on_surface]
        if hits.numel():
            rgb_hit, label_hit = self._shade(
                origins[hits], directions[hits], t_hit, head_index[hits], params_t
            )
            rgb[hits], labels[hits], depth[hits] = rgb_hit, label_hit, t_hit
        side = (batch, resolution, resolution)
        return rgb.reshape(*side, 3), labels.to(torch.uint8).reshape(side), depth.reshape(side)

    def _trace(
        self, origins: Tensor, directions: Tensor, head_index: Tensor, params_t: Tensor, epsilon: float
    ) -> tuple[Tensor, Tensor]:
        """March every ray; returns (N,) distances along the ray and (N,) hit flags."""
        centre = torch.tensor(BOUND_CENTRE, device=self.device)
        oc = origins - centre
        b = (oc * directions).sum(-1)
        disc = b * b - ((oc * oc).sum(-1) - BOUND_RADIUS**2)
        root = disc.clamp(min=0.0).sqrt()
        t = (-b - root).clamp(min=0.0)
        t_exit = -b + root
        hit = torch.zeros_like(t, dtype=torch.bool)
        active = (disc > 0).nonzero().squeeze(1)
        ox, oy, oz = _columns(origins[active])
        dx, dy, dz = _columns(directions[active])
        ta, exit_a, index_a = t[active], t_exit[active], head_index[active]
        steps = self.settings.max_steps
        for step in range(steps):
            if active.numel() == 0:
                break
            ta, dist = self.kernels.march(
                ox, oy, oz, dx, dy, dz, ta, index_a, params_t, self.settings.relax, epsilon
            )
            close = dist < (epsilon if step < steps - 1 else 20 * epsilon)
            done = close | (ta > exit_a)
            if bool(done.any()):
                finished = done.nonzero().squeeze(1)
                t[active[finished]] = ta[finished]
                hit[active[finished[close[finished]]]] = True
                keep = (~done).nonzero().squeeze(1)
                active = active[keep]
                ox, oy, oz, dx, dy, dz = (v[keep] for v in (ox, oy, oz, dx, dy, dz))
                ta, exit_a, index_a = ta[keep], exit_a[keep], index_a[keep]
        return t, hit

    def _refine(
        self,
        origins: Tensor,
        directions: Tensor,
        t: Tensor,
        head_index: Tensor,
        params_t: Tensor,
        epsilon: float,
    ) -> tuple[Tensor, Tensor]:
        """Pull hits onto the surface; returns (M,) distances and (M,) flags of rays whose point ends within
        `epsilon` of the surface (a refinement step is kept only where it brings the point closer)."""
        sdf = self.kernels.sdf
        distance = sdf(*_columns(origins + directions * t[:, None]), head_index, params_t)
        for _ in range(self.settings.refine_steps):
            stepped = t + distance
            new = sdf(*_columns(origins + directions * stepped[:, None]), head_index, params_t)
            better = new.abs() < distance.abs()
            t, distance = torch.where(better, stepped, t), torch.where(better, new, distance)
        return t, distance.abs() < epsilon

    def _shade(
        self, origins: Tensor, directions: Tensor, t: Tensor, head_index: Tensor, params_t: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Normals, occlusion, labels and colour at surface points: rgb (M, 3), labels (M,)."""
        sdf = self.kernels.sdf
        points = origins + directions * t[:, None]
        e = self.settings.normal_epsilon
        normal = torch.zeros_like(points)
        for corner in ((1, -1, -1), (-1, -1, 1), (-1, 1, -1), (1, 1, 1)):
            k = torch.tensor(corner, dtype=points.dtype, device=self.device)
            normal = normal + k * sdf(*_columns(points + k * e), head_index, params_t)[:, None]
        normal = torch.nn.functional.normalize(normal, dim=-1)
        occlusion = 0.55 + 0.45 * (sdf(*_columns(points + normal * 0.02), head_index, params_t) / 0.02).clamp(
            0, 1
        )
        _, parts = self.kernels.components(*_columns(points), head_index, params_t)
        return shade(points, normal, directions, occlusion, parts, HeadParams(params_t, head_index))

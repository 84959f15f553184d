"""Mesh extraction (marching cubes on a density grid) and export to .ply / .obj / .glb.

scikit-image and trimesh are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from pipelines.core.io import write_with
from pipelines.errors import InvalidInputError, TG3DFaceError

if TYPE_CHECKING:
    import trimesh

MESH_FORMATS = ("ply", "obj", "glb")
PointFn = Callable[[Tensor], Tensor]


def density_grid(
    density_fn: PointFn,
    resolution: int,
    bounds: tuple[float, float] = (-0.5, 0.5),
    chunk: int = 262144,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Evaluate `density_fn` on a regular grid of the cube [lo, hi]^3, in chunks, without gradients.

    Args:
        density_fn: maps (P, 3) world points (x, y, z) to (P,) or (P, 1) densities.
        resolution: R, samples per axis (the first and last sample lie on the bounds).
        bounds: (lo, hi) world extent of the cube on every axis.
        chunk: points per `density_fn` call.
        device: where the points are created (the caller's model device).

    Returns:
        (R, R, R) float32 array, indexed [i, j, k] = density at (x_i, y_j, z_k).
    """
    lo, hi = bounds
    axis = torch.linspace(lo, hi, resolution, device=device)
    total = resolution**3
    values = np.empty(total, dtype=np.float32)
    with torch.no_grad():
        for start in range(0, total, chunk):
            index = torch.arange(start, min(start + chunk, total), device=device)
            i, j, k = index // resolution**2, (index // resolution) % resolution, index % resolution
            points = torch.stack([axis[i], axis[j], axis[k]], dim=-1)
            values[start : start + len(index)] = density_fn(points).reshape(-1).float().cpu().numpy()
    return values.reshape(resolution, resolution, resolution)


def extract_mesh(
    density_fn: PointFn,
    resolution: int = 128,
    bounds: tuple[float, float] = (-0.5, 0.5),
    level: float = 0.0,
    color_fn: PointFn | None = None,
    chunk: int = 262144,
    device: str | torch.device = "cpu",
) -> trimesh.Trimesh:
    """Marching cubes on the `level` iso-surface of a density that is larger inside the object.

    Args:
        density_fn: (P, 3) world points -> (P,) densities (see `density_grid`).
        resolution: R, grid samples per axis over `bounds`.
        bounds: (lo, hi) world extent of the cube on every axis.
        level: the iso-value of the surface.
        color_fn: optional (P, 3) world points -> (P, 3) RGB in [0, 1], evaluated at the vertices.
        chunk: points per call of `density_fn` / `color_fn`.
        device: where query points are created.

    Returns:
        A trimesh.Trimesh in world coordinates with outward faces and normals, and uint8 RGBA vertex
        colours when `color_fn` is given.

    Raises:
        TG3DFaceError: the density never crosses `level` inside the grid (no surface).
    """
    import trimesh
    from skimage import measure

    if resolution < 2 or not bounds[0] < bounds[1]:
        raise InvalidInputError(f"mesh: need resolution >= 2 and lo < hi, got {resolution} and {bounds}")
    grid = density_grid(density_fn, resolution, bounds, chunk, device)
    low, high = float(grid.min()), float(grid.max())
    if not low < level < high:
        raise TG3DFaceError(
            f"mesh: no surface at iso level {level:g}: the density on the {resolution}^3 grid ranges over "
            f"[{low:.4g}, {high:.4g}] (choose another --iso, or larger bounds)"
        )
    spacing = (bounds[1] - bounds[0]) / (resolution - 1)
    # "ascent": the density grows inward, so skimage's default winding would point the faces inward.
    vertices, faces, normals, _ = measure.marching_cubes(
        grid, level=level, spacing=(spacing,) * 3, gradient_direction="ascent"
    )
    vertices = vertices + bounds[0]
    colors = None if color_fn is None else _vertex_colors(color_fn, vertices, chunk, device)
    return trimesh.Trimesh(
        vertices=vertices, faces=faces, vertex_normals=normals, vertex_colors=colors, process=False
    )


def _vertex_colors(
    color_fn: PointFn, vertices: np.ndarray, chunk: int, device: str | torch.device
) -> np.ndarray:
    """(V, 3) world vertices -> (V, 4) uint8 RGBA from `color_fn`'s RGB in [0, 1] (alpha 255)."""
    points = torch.as_tensor(vertices, dtype=torch.float32, device=device)
    with torch.no_grad():
        rgb = torch.cat([color_fn(part).reshape(-1, 3).float() for part in points.split(chunk)])
    rgb8 = (rgb.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu().numpy()
    return np.concatenate([rgb8, np.full((len(rgb8), 1), 255, dtype=np.uint8)], axis=1)


def export_mesh(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Write `mesh` (with its vertex colours) as .ply, .obj or .glb, chosen by the suffix, atomically."""
    path = Path(path)
    file_type = path.suffix.lower().lstrip(".")
    if file_type not in MESH_FORMATS:
        raise InvalidInputError(f"{path}: unsupported mesh format; use one of .{', .'.join(MESH_FORMATS)}")
    return write_with(path, lambda tmp: mesh.export(tmp, file_type=file_type))

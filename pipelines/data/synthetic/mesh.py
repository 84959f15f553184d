"""The exact head surface as a triangle mesh (marching cubes of its SDF), for geometry metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

MESH_BOX = ((-0.45, 0.45), (-0.62, 0.36), (-0.35, 0.45))
"""World-space box meshed per head (x, y, z): the head, neck and the top of the shoulders."""


def head_mesh(sdf, params: Tensor, resolution: int, chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of one head.

    Args:
        sdf: callable (points (N, 3), head_index (N,), params (1, P)) -> (N,) distances, e.g.
            `HeadRenderer.sdf`.
        params: (1, P) the head's parameter row.
        resolution: grid samples along the longest box side.

    Returns:
        vertices (V, 3) float32 in world coordinates, faces (F, 3) int32 (outward normals); the mesh is
        closed, the body being cut by the box.
    """
    from skimage.measure import marching_cubes

    sizes = [hi - lo for lo, hi in MESH_BOX]
    step = max(sizes) / (resolution - 1)
    axes = [torch.arange(lo, hi + step / 2, step) for lo, hi in MESH_BOX]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    values = torch.cat(
        [
            sdf(grid[i : i + chunk], torch.zeros(len(grid[i : i + chunk]), dtype=torch.long), params)
            for i in range(0, len(grid), chunk)
        ]
    )
    volume = values.reshape(*(len(a) for a in axes)).cpu().numpy()
    for axis in range(3):  # outside on the box faces, so the cut through the shoulders is closed
        np.moveaxis(volume, axis, 0)[[0, -1]] = step
    vertices, faces, _, _ = marching_cubes(volume, level=0.0, spacing=(step, step, step))
    vertices = vertices + np.array([lo for lo, _ in MESH_BOX])
    return vertices.astype(np.float32), faces.astype(np.int32)


def save_ply(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write a binary little-endian PLY (deterministic bytes)."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    face_rows = np.empty(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_rows["n"], face_rows["v"] = 3, faces
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(vertices.astype("<f4").tobytes())
        handle.write(face_rows.tobytes())

"""Marching-cubes mesh extraction and export, checked on an analytic sphere."""

import math

import numpy as np
import pytest
import torch

from pipelines.core.mesh import density_grid, export_mesh, extract_mesh
from pipelines.errors import InvalidInputError, TG3DFaceError

CENTRE = torch.tensor([0.1, -0.05, 0.02])
RADIUS = 0.3


def sphere_density(points):
    """Positive inside a sphere of RADIUS around CENTRE: (P, 3) -> (P,)."""
    return RADIUS - (points - CENTRE).norm(dim=-1)


def position_colour(points):
    """(P, 3) -> (P, 3) RGB in [0, 1] that varies over the sphere."""
    return ((points - CENTRE) / (2 * RADIUS) + 0.5).clamp(0, 1)


@pytest.fixture(scope="module")
def sphere():
    return extract_mesh(
        sphere_density, resolution=64, bounds=(-0.5, 0.5), level=0.0, color_fn=position_colour, chunk=10_000
    )


def test_density_grid_maps_indices_to_world_coordinates():
    grid = density_grid(
        lambda p: p[:, 0] + 10 * p[:, 1] + 100 * p[:, 2], resolution=5, bounds=(-1.0, 1.0), chunk=7
    )
    axis = np.linspace(-1.0, 1.0, 5)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    np.testing.assert_allclose(grid, x + 10 * y + 100 * z, atol=1e-5)


def test_sphere_mesh_has_the_right_volume_and_is_closed(sphere):
    assert sphere.is_watertight
    assert sphere.volume == pytest.approx(4 / 3 * math.pi * RADIUS**3, rel=0.03)


def test_sphere_mesh_sits_at_the_world_centre_and_radius(sphere):
    offsets = np.asarray(sphere.vertices) - CENTRE.numpy()
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), RADIUS, atol=2e-3)


def test_sphere_normals_point_outward(sphere):
    outward = np.asarray(sphere.vertices) - CENTRE.numpy()
    assert sphere.volume > 0  # face winding: positive signed volume
    assert (np.einsum("ij,ij->i", sphere.vertex_normals, outward) > 0).all()
    face_centres = np.asarray(sphere.triangles_center) - CENTRE.numpy()
    assert (np.einsum("ij,ij->i", sphere.face_normals, face_centres) > 0).all()


def test_vertex_colours_come_from_the_colour_function(sphere):
    expected = (position_colour(torch.as_tensor(sphere.vertices, dtype=torch.float32)) * 255).round().numpy()
    np.testing.assert_allclose(sphere.visual.vertex_colors[:, :3], expected, atol=1)
    assert (sphere.visual.vertex_colors[:, 3] == 255).all()


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".obj"])
def test_export_keeps_geometry_and_vertex_colours(sphere, tmp_path, suffix):
    import trimesh

    path = export_mesh(sphere, tmp_path / f"mesh{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    loaded = trimesh.load(path, force="mesh", process=False)
    np.testing.assert_allclose(loaded.vertices, sphere.vertices, atol=1e-6)
    np.testing.assert_array_equal(loaded.visual.vertex_colors, sphere.visual.vertex_colors)


def test_empty_grid_is_a_clear_error():
    with pytest.raises(TG3DFaceError, match="no surface at iso level 0"):
        extract_mesh(lambda p: torch.full(p.shape[:1], -1.0), resolution=8)


def test_unknown_mesh_format_is_rejected(sphere, tmp_path):
    with pytest.raises(InvalidInputError, match="unsupported mesh format"):
        export_mesh(sphere, tmp_path / "mesh.stl")
    assert not any(tmp_path.iterdir())

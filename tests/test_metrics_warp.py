"""View-warp consistency on an analytic scene: a textured sphere rendered exactly from two cameras."""

import math

import torch

from pipelines.core.cameras import generate_rays, orbit_label
from pipelines.metrics.warp import RenderedView, correspondences, warp_consistency

CENTRE = torch.tensor([0.0, 0.0, 0.2])
RADIUS = 0.2


def texture(points: torch.Tensor, phase: float = 0.0) -> torch.Tensor:
    """A smooth colour field on 3D points (..., 3) -> (..., 3) in [-1, 1]."""
    x, y, z = points.unbind(-1)
    return torch.stack(
        [
            torch.sin(8 * x + phase) * torch.cos(6 * y),
            torch.cos(8 * y + 3 * z),
            torch.sin(6 * z - 5 * x + phase),
        ],
        dim=-1,
    )


def render_sphere(yaw_deg: float, resolution: int = 64, phase: float = 0.0) -> RenderedView:
    """Ray-sphere intersection from an orbit camera: exact depth along the ray, colour from `texture`."""
    camera = orbit_label(math.radians(yaw_deg), 0.0)
    origins, directions = generate_rays(camera, resolution)
    offset = origins - CENTRE
    b = (offset * directions).sum(-1)
    c = offset.square().sum(-1) - RADIUS**2
    disc = b.square() - c
    hit = disc > 0
    t = -b - disc.clamp(min=0).sqrt()
    points = origins + directions * t[..., None]
    colour = torch.where(hit[..., None], texture(points, phase), torch.zeros_like(points))
    shape = (1, resolution, resolution)
    return RenderedView(
        image=colour.reshape(1, resolution, resolution, 3).permute(0, 3, 1, 2),
        depth=torch.where(hit, t, torch.zeros_like(t)).reshape(1, 1, resolution, resolution),
        mask=hit.reshape(shape)[:, None],
        camera=camera,
    )


def points_of(view: RenderedView) -> torch.Tensor:
    """(1, R, 3) the 3D points of a view's pixels from its depth."""
    origins, directions = generate_rays(view.camera, view.depth.shape[-1])
    return origins + directions * view.depth.reshape(1, -1, 1)


def hit_points(camera: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Sphere hits of the rays of `camera` through normalised image points uv (P, 2)."""
    from pipelines.core.cameras import split_label

    cam2world, intrinsics = split_label(camera)
    x = (uv[:, 0] - intrinsics[0, 0, 2]) / intrinsics[0, 0, 0]
    y = (uv[:, 1] - intrinsics[0, 1, 2]) / intrinsics[0, 1, 1]
    directions = torch.nn.functional.normalize(
        torch.stack([x, y, torch.ones_like(x)], -1) @ cam2world[0, :3, :3].T, dim=-1
    )
    origin = cam2world[0, :3, 3]
    b = ((origin - CENTRE) * directions).sum(-1)
    c = (origin - CENTRE).square().sum() - RADIUS**2
    return origin + directions * (-b - (b.square() - c).sqrt())[:, None]


def test_warp_of_a_view_onto_itself_is_exact():
    view = render_sphere(0.0)
    scores = warp_consistency(view, view)
    assert math.isinf(scores.psnr.item()) or scores.psnr.item() > 100
    assert scores.l1.item() < 1e-6
    assert scores.coverage.item() > 0.999


def test_correspondences_land_on_the_same_surface_point():
    frontal, turned = render_sphere(0.0, 96), render_sphere(30.0, 96)
    grid, visible = correspondences(frontal, turned, tolerance=0.02)
    source_points = points_of(frontal)[visible.reshape(1, -1)]
    # the target ray through each landing point hits the sphere at the same 3D point
    uv = (grid[visible] + 1) / 2
    target_points = hit_points(turned.camera, uv)
    assert (source_points - target_points).norm(dim=-1).max() < 1e-4


def test_sphere_warp_error_is_only_resampling_and_shrinks_with_resolution():
    scores = {res: warp_consistency(render_sphere(0.0, res), render_sphere(30.0, res)) for res in (64, 192)}
    assert scores[64].psnr.item() > 55.0
    assert scores[192].l1.item() < scores[64].l1.item() / 3
    # a yaw of 30 degrees hides a sliver of the sphere's frontal half (and its silhouette ring is skipped)
    assert 0.75 < scores[192].coverage.item() < 0.95


def test_occluded_points_are_not_compared():
    frontal, turned = render_sphere(0.0, 64), render_sphere(30.0, 64)
    _, visible = correspondences(frontal, turned, tolerance=0.02)
    # points on the sphere's far side from the turned camera (normal facing away from it) must be masked out
    points = points_of(frontal)
    normals = torch.nn.functional.normalize(points - CENTRE, dim=-1)
    to_camera = torch.nn.functional.normalize(generate_rays(turned.camera, 1)[0] - points, dim=-1)
    facing_away = ((normals * to_camera).sum(-1) < -0.05).reshape(1, 64, 64) & frontal.mask[:, 0]
    assert facing_away.any()
    assert not (visible & facing_away).any()


def test_an_inconsistent_texture_scores_lower():
    frontal = render_sphere(0.0, 64)
    consistent = warp_consistency(frontal, render_sphere(15.0, 64))
    inconsistent = warp_consistency(frontal, render_sphere(15.0, 64, phase=1.5))
    assert inconsistent.psnr.item() < consistent.psnr.item() - 15
    assert inconsistent.l1.item() > 10 * consistent.l1.item()

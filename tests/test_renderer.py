"""Volume renderer and tri-plane sampling against analytic answers and naive references."""

import math

import torch

from pipelines.core import cameras
from pipelines.core.config import RendererConfig
from pipelines.core.renderer import PLANE_AXES, composite, render_rays, sample_pdf, sample_triplanes


def naive_bilinear(plane: torch.Tensor, u: float, v: float) -> torch.Tensor:
    """Bilinear lookup of a (C, P, P) plane at (u, v) in [-1, 1]; align_corners=False, zeros outside."""
    size = plane.shape[-1]
    x = (u + 1) * size / 2 - 0.5
    y = (v + 1) * size / 2 - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    value = torch.zeros(plane.shape[0])
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - abs(x - xi)) * (1 - abs(y - yi))
            if 0 <= xi < size and 0 <= yi < size:
                value += weight * plane[:, yi, xi]
    return value


def test_triplane_sampling_matches_naive_reference():
    generator = torch.Generator().manual_seed(0)
    planes = torch.randn(2, 3, 4, 8, 8, generator=generator)
    points = (torch.rand(2, 20, 3, generator=generator) - 0.5) * 1.3  # some points leave the box
    box_warp = 1.0
    result = sample_triplanes(planes, points, box_warp)
    assert result.shape == (2, 20, 4)
    for n in range(2):
        for m in range(20):
            p = points[n, m] * 2 / box_warp
            expected = (
                sum(
                    naive_bilinear(planes[n, k], p[a].item(), p[b].item())
                    for k, (a, b) in enumerate(PLANE_AXES)
                )
                / 3
            )
            torch.testing.assert_close(result[n, m], expected, atol=1e-5, rtol=0)


def test_composite_of_uniform_density_matches_beer_lambert():
    depths = torch.linspace(2.0, 3.0, 101).reshape(1, 1, 101, 1)
    sigma = 1.5  # activated density; raw value chosen so softplus(raw + bias) = sigma
    raw = math.log(math.expm1(sigma)) + 1.0
    densities = torch.full_like(depths, raw)
    features = torch.ones(1, 1, 101, 3) * 0.25
    out, depth, weights = composite(features, densities, depths, density_bias=-1.0)
    opacity = 1 - math.exp(-sigma * 1.0)
    assert abs(weights.sum().item() - opacity) < 1e-5
    torch.testing.assert_close(out[0, 0], torch.full((3,), 0.25 * opacity), atol=1e-5, rtol=0)
    # expected depth of an exponential distribution truncated to [2, 3]
    mean = 2 + (1 / sigma - math.exp(-sigma) * (1 + 1 / sigma)) / (1 - math.exp(-sigma))
    assert abs(depth.item() - mean) < 2e-3


def sphere_field(radius: float):
    """A solid sphere at the origin: raw density +1e3 inside, -1e3 outside; features = 1."""

    def decode(points: torch.Tensor):
        inside = points.norm(dim=-1, keepdim=True) < radius
        return torch.where(inside, 1e3, -1e3), torch.ones(*points.shape[:-1], 3)

    return decode


def test_sphere_depth_matches_ray_intersection():
    radius, resolution = 0.3, 16
    label = cameras.orbit_label(0.3, -0.1)
    origins, directions = cameras.generate_rays(label, resolution)
    config = RendererConfig(samples_coarse=48, samples_fine=48)
    features, depth, opacity = render_rays(sphere_field(radius), origins, directions, config)
    # analytic ray-sphere intersection |o + t d| = r
    b = (origins * directions).sum(-1)
    c = (origins * origins).sum(-1) - radius**2
    disc = b * b - c
    hit = disc > 0.01  # rays clearly through the sphere
    miss = disc < -0.01  # rays clearly past it
    assert hit.sum() > 20 and miss.sum() > 20
    t_hit = -b - torch.sqrt(disc.clamp_min(0))
    assert (depth[..., 0][hit] - t_hit[hit]).abs().max() < 0.01
    assert opacity[..., 0][hit].min() > 0.999
    assert opacity[..., 0][miss].max() < 1e-3
    torch.testing.assert_close(features[hit], torch.ones_like(features[hit]), atol=1e-3, rtol=0)


def test_rendering_without_generator_is_deterministic_and_jitter_is_seeded():
    label = cameras.orbit_label(0.0, 0.0)
    origins, directions = cameras.generate_rays(label, 8)
    config = RendererConfig(samples_coarse=12, samples_fine=12)
    field = sphere_field(0.3)
    first = render_rays(field, origins, directions, config)
    second = render_rays(field, origins, directions, config)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    jittered = [
        render_rays(field, origins, directions, config, torch.Generator().manual_seed(5)) for _ in range(2)
    ]
    assert all(torch.equal(a, b) for a, b in zip(*jittered, strict=True))


def test_sample_pdf_puts_samples_in_the_weighted_bin():
    bins = torch.linspace(0.0, 1.0, 11)[None]
    weights = torch.zeros(1, 10)
    weights[0, 6] = 1.0
    samples = sample_pdf(bins, weights + 1e-8, 64, None)
    assert samples.min() >= 0.6 - 1e-4 and samples.max() <= 0.7 + 1e-4
    random = sample_pdf(bins, weights + 1e-8, 64, torch.Generator().manual_seed(0))
    assert random.min() >= 0.6 - 1e-3 and random.max() <= 0.7 + 1e-3

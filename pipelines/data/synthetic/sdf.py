"""Signed-distance primitives and smooth boolean operators on separate coordinate tensors.

Every function takes coordinates as separate (N,) tensors (x, y, z) and returns (N,) distances, so a whole
batch of heads is one call and `torch.compile` can fuse the chain. Sizes may be floats or (N,) tensors.
Formulas follow Inigo Quilez's well-known distance-function notes; the ellipsoid is his bound (exact on the
surface, a close under-estimate near it), which sphere tracing tolerates.
"""

from __future__ import annotations

from torch import Tensor

Size = Tensor | float
Point = tuple[Size, Size, Size]


def ellipsoid(x: Tensor, y: Tensor, z: Tensor, rx: Size, ry: Size, rz: Size) -> Tensor:
    """Approximate distance to an axis-aligned ellipsoid of radii (rx, ry, rz) centred at the origin."""
    qx, qy, qz = x / rx, y / ry, z / rz
    k0 = (qx * qx + qy * qy + qz * qz).sqrt()
    k1 = ((qx / rx) ** 2 + (qy / ry) ** 2 + (qz / rz) ** 2).sqrt()
    return k0 * (k0 - 1.0) / (k1 + 1e-8)


def ellipse(x: Tensor, y: Tensor, rx: Size, ry: Size) -> Tensor:
    """Approximate 2D distance to an axis-aligned ellipse of radii (rx, ry) centred at the origin."""
    qx, qy = x / rx, y / ry
    k0 = (qx * qx + qy * qy).sqrt()
    k1 = ((qx / rx) ** 2 + (qy / ry) ** 2).sqrt()
    return k0 * (k0 - 1.0) / (k1 + 1e-8)


def sphere(x: Tensor, y: Tensor, z: Tensor, centre: Point, radius: Size) -> Tensor:
    """Exact distance to a sphere."""
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    return (dx * dx + dy * dy + dz * dz).sqrt() - radius


def capsule(x: Tensor, y: Tensor, z: Tensor, a: Point, b: Point, r1: Size, r2: Size | None = None) -> Tensor:
    """Distance to a capsule from `a` to `b`, its radius tapering linearly from r1 (at a) to r2 (at b)."""
    bax, bay, baz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    pax, pay, paz = x - a[0], y - a[1], z - a[2]
    h = ((pax * bax + pay * bay + paz * baz) / (bax * bax + bay * bay + baz * baz)).clamp(0.0, 1.0)
    dx, dy, dz = pax - bax * h, pay - bay * h, paz - baz * h
    radius = r1 if r2 is None else r1 + (r2 - r1) * h
    return (dx * dx + dy * dy + dz * dz).sqrt() - radius


def extrude(d2: Tensor, dz: Tensor) -> Tensor:
    """Combine a 2D distance `d2` with a slab distance `dz` (|z| - half thickness) into a 3D prism."""
    wx, wz = d2.clamp(min=0.0), dz.clamp(min=0.0)
    return (wx * wx + wz * wz).sqrt() + d2.maximum(dz).clamp(max=0.0)


def smin(a: Tensor, b: Tensor, k: float) -> Tensor:
    """Polynomial smooth union with blend radius k."""
    h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: Tensor, b: Tensor, k: float) -> Tensor:
    """Polynomial smooth intersection with blend radius k (smooth subtraction is smax(a, -b))."""
    return -smin(-a, -b, k)


def smoothstep(edge0: Size, edge1: Size, x: Tensor) -> Tensor:
    """Hermite step from 0 at edge0 to 1 at edge1 (edges may be given in decreasing order)."""
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def smoothstep_slope(edge0: Size, edge1: Size, x: Tensor) -> Tensor:
    """Derivative of `smoothstep(edge0, edge1, x)` with respect to x."""
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return 6.0 * t * (1.0 - t) / (edge1 - edge0)


def height_field(value: Tensor, slope_a: Tensor, slope_b: Tensor | float = 0.0) -> Tensor:
    """Distance to a surface u = f(v, w) from `value` = u - f, given f's partial slopes.

    Dividing by the gradient length makes steep cut surfaces safe for sphere tracing (first order exact).
    """
    return value / (1.0 + slope_a * slope_a + slope_b * slope_b).sqrt()

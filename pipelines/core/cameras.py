"""Cameras in the EG3D convention (DESIGN §4).

A camera label is 25 floats: a 4x4 OpenCV cam2world matrix (x right, y down, z forward), row-major, then the
3x3 intrinsics normalised by the image size. World coordinates are y up with the face looking toward +z.
Orbit cameras sit on a sphere of `radius` about the world origin and look at `pivot`, exactly as EG3D's
`LookAtPoseSampler` does, so yaw = pitch = 0 puts the camera at (0, 0, radius) looking along -z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_RADIUS = 2.7
DEFAULT_PIVOT = (0.0, 0.0, 0.2)
DEFAULT_FOCAL = 4.2647
"""Normalised focal length of EG3D's FFHQ cameras (2985.29 / 700); a true vertical FOV of 13.37 degrees."""


def intrinsics_matrix(focal: float = DEFAULT_FOCAL, principal: float = 0.5) -> Tensor:
    """Normalised 3x3 intrinsics [[f, 0, c], [0, f, c], [0, 0, 1]]."""
    return torch.tensor([[focal, 0.0, principal], [0.0, focal, principal], [0.0, 0.0, 1.0]])


def look_at(origin: Tensor, target: Tensor) -> Tensor:
    """OpenCV cam2world matrices of cameras at `origin` looking at `target` with world +y up.

    Args:
        origin: (N, 3) camera centres.
        target: (N, 3) or (3,) points looked at.

    Returns:
        (N, 4, 4) cam2world; columns are the camera's x (right), y (down) and z (forward) axes and centre.
    """
    forward = torch.nn.functional.normalize(target - origin, dim=-1)
    world_up = torch.tensor([0.0, 1.0, 0.0], dtype=origin.dtype, device=origin.device).expand_as(forward)
    right = -torch.nn.functional.normalize(torch.linalg.cross(world_up, forward), dim=-1)
    down = torch.nn.functional.normalize(torch.linalg.cross(forward, right), dim=-1)
    cam2world = torch.eye(4, dtype=origin.dtype, device=origin.device).repeat(origin.shape[0], 1, 1)
    cam2world[:, :3, 0] = right
    cam2world[:, :3, 1] = down
    cam2world[:, :3, 2] = forward
    cam2world[:, :3, 3] = origin
    return cam2world


def orbit_origin(yaw: Tensor, pitch: Tensor, radius: float = DEFAULT_RADIUS) -> Tensor:
    """Camera centres on EG3D's orbit sphere.

    EG3D parameterises the orbit by h = pi/2 + yaw and v = pi/2 + pitch, with polar angle
    phi = arccos(1 - 2 v / pi); so positive yaw moves the camera toward +x (the subject's left) and positive
    pitch moves it below the head, with an elevation of about 0.64 * pitch.

    Args:
        yaw: (N,) radians. pitch: (N,) radians.

    Returns:
        (N, 3) positions.
    """
    theta = math.pi / 2 + yaw
    v = (math.pi / 2 + pitch) / math.pi
    phi = torch.arccos(torch.clamp(1 - 2 * v, -1 + 1e-5, 1 - 1e-5))
    return radius * torch.stack(
        [
            torch.sin(phi) * torch.cos(math.pi - theta),
            torch.cos(phi),
            torch.sin(phi) * torch.sin(math.pi - theta),
        ],
        dim=-1,
    )


def orbit_cam2world(
    yaw: Tensor | float,
    pitch: Tensor | float,
    radius: float = DEFAULT_RADIUS,
    pivot: Sequence[float] = DEFAULT_PIVOT,
) -> Tensor:
    """(N, 4, 4) cam2world of orbit cameras at the given yaw and pitch (radians), looking at `pivot`."""
    yaw_t = torch.as_tensor(yaw, dtype=torch.float32).reshape(-1)
    pitch_t = torch.as_tensor(pitch, dtype=torch.float32).reshape(-1)
    yaw_t, pitch_t = torch.broadcast_tensors(yaw_t, pitch_t)
    origin = orbit_origin(yaw_t, pitch_t, radius)
    return look_at(origin, torch.tensor(pivot, dtype=torch.float32))


def make_label(cam2world: Tensor, intrinsics: Tensor | None = None) -> Tensor:
    """Pack (N, 4, 4) cam2world and (3, 3) or (N, 3, 3) intrinsics into (N, 25) labels."""
    if intrinsics is None:
        intrinsics = intrinsics_matrix()
    intrinsics = intrinsics.to(cam2world).expand(cam2world.shape[0], 3, 3)
    return torch.cat([cam2world.reshape(-1, 16), intrinsics.reshape(-1, 9)], dim=1)


def split_label(label: Tensor) -> tuple[Tensor, Tensor]:
    """Unpack (N, 25) labels into (N, 4, 4) cam2world and (N, 3, 3) intrinsics."""
    if label.shape[-1] != 25:
        raise ValueError(f"camera label has {label.shape[-1]} values, expected 25")
    return label[..., :16].reshape(-1, 4, 4), label[..., 16:].reshape(-1, 3, 3)


def orbit_label(
    yaw: Tensor | float,
    pitch: Tensor | float,
    radius: float = DEFAULT_RADIUS,
    pivot: Sequence[float] = DEFAULT_PIVOT,
    focal: float = DEFAULT_FOCAL,
) -> Tensor:
    """(N, 25) labels of orbit cameras (the usual way to ask for a view)."""
    return make_label(orbit_cam2world(yaw, pitch, radius, pivot), intrinsics_matrix(focal))


def generate_rays(label: Tensor, resolution: int) -> tuple[Tensor, Tensor]:
    """World-space rays through pixel centres.

    Pixel (row i, column j) has normalised coordinates ((j + 0.5) / res, (i + 0.5) / res); rays are ordered
    row-major, so ray index = i * res + j, matching a (res, res) image.

    Args:
        label: (N, 25) camera labels.
        resolution: image side in pixels.

    Returns:
        origins (N, R, 3) and unit directions (N, R, 3), R = resolution**2.
    """
    cam2world, intrinsics = split_label(label)
    n = cam2world.shape[0]
    coords = (torch.arange(resolution, dtype=label.dtype, device=label.device) + 0.5) / resolution
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    u, v = u.reshape(1, -1), v.reshape(1, -1)
    fx, fy = intrinsics[:, 0, 0:1], intrinsics[:, 1, 1:2]
    cx, cy, skew = intrinsics[:, 0, 2:3], intrinsics[:, 1, 2:3], intrinsics[:, 0, 1:2]
    y_cam = (v - cy) / fy
    x_cam = (u - cx - skew * y_cam) / fx
    points_cam = torch.stack([x_cam, y_cam, torch.ones_like(x_cam)], dim=-1)  # (N, R, 3)
    rotation = cam2world[:, :3, :3]
    directions = torch.nn.functional.normalize(points_cam @ rotation.transpose(1, 2), dim=-1)
    origins = cam2world[:, None, :3, 3].expand(n, resolution * resolution, 3)
    return origins, directions


def project_points(points: Tensor, label: Tensor) -> Tensor:
    """Project world points to normalised image coordinates in [0, 1] (x right, y down).

    Args:
        points: (N, P, 3) world points. label: (N, 25).

    Returns:
        (N, P, 2) coordinates; multiply by the image size for pixels.
    """
    cam2world, intrinsics = split_label(label)
    world2cam = torch.linalg.inv(cam2world)
    homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)
    cam = (homogeneous @ world2cam.transpose(1, 2))[..., :3]
    pixels = cam @ intrinsics.transpose(1, 2)
    return pixels[..., :2] / pixels[..., 2:3]


def parse_views(spec: str) -> list[tuple[float, float]]:
    """Parse a `--views` value into (yaw, pitch) pairs in degrees.

    Accepts a count ("5": yaws spread over -30..30 degrees at pitch 0) or a comma list of `yaw` or
    `yaw:pitch` entries in degrees ("0,-30,30:10"); "0" is the frontal view, and a single other yaw is
    written with its pitch ("30:0"), since a bare positive integer is a count.
    """
    spec = spec.strip()
    if spec.isdigit() and int(spec) >= 1:
        count = int(spec)
        if count == 1:
            return [(0.0, 0.0)]
        return [(-30.0 + 60.0 * i / (count - 1), 0.0) for i in range(count)]
    views = []
    for item in spec.split(","):
        parts = item.strip().split(":")
        if len(parts) not in (1, 2) or not parts[0]:
            raise ValueError(f"--views entry {item!r}: expected YAW or YAW:PITCH in degrees")
        try:
            yaw = float(parts[0])
            pitch = float(parts[1]) if len(parts) == 2 else 0.0
        except ValueError as error:
            raise ValueError(f"--views entry {item!r}: expected numbers in degrees") from error
        views.append((yaw, pitch))
    return views

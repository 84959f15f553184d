"""The 5 standard face landmarks of a head, exactly, in 3D, and their pixel positions in a view.

Order (the RetinaFace / ArcFace five-point order): left eye centre, right eye centre, nose tip, left mouth
corner, right mouth corner, where "left" is the image's left in a frontal view (the subject's right side),
the same side as CelebAMask-HQ's l_eye. Eye centres are the pupil centres on the eyeball; the nose tip and
mouth corners are points of the skin surface (found by probing the face SDF along -z), so occluders such as
glasses or a mustache do not move them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pipelines.core.cameras import project_points
from pipelines.data.synthetic.head import (
    EYE_Y,
    EYEBALL_Z,
    LEFT_SIGN,
    eyeball_radius,
    face_sdf_local,
    mouth_half_width,
    to_world,
)
from pipelines.data.synthetic.params import HeadParams

LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")
_PROBE_START_Z = 0.4
_PROBE_STEPS = 160


def _probe_surface_z(x: Tensor, y: Tensor, g: HeadParams) -> Tensor:
    """Depth where the line (x, y, z) with z decreasing from the front first meets the face surface."""
    z = torch.full_like(x, _PROBE_START_Z)
    for _ in range(_PROBE_STEPS):
        z = z - 0.9 * face_sdf_local(x, y, z, g).clamp(min=0.0)
    for _ in range(4):
        z = z - face_sdf_local(x, y, z, g)
    return z


def landmarks_3d(params: Tensor) -> Tensor:
    """(B, P) head parameter rows -> (B, 5, 3) world positions of the landmarks (LANDMARK_NAMES order)."""
    params = params.to(torch.float32)
    batch = params.shape[0]
    g = HeadParams(params.T.contiguous(), torch.arange(batch))
    sep, radius = g["eye_sep"], eyeball_radius(g)
    eye_z = EYEBALL_Z + radius
    tip_y = EYE_Y - 0.068 * g["nose_len"]
    corner_x = mouth_half_width(g)
    corner_y = -0.11 * g["face_len"] + g["smile"] * 5.0 * corner_x * corner_x
    probe_x = torch.stack([torch.zeros_like(sep), LEFT_SIGN * corner_x, -LEFT_SIGN * corner_x], 1).reshape(-1)
    probe_y = torch.stack([tip_y, corner_y, corner_y], 1).reshape(-1)
    probe_g = HeadParams(g.params_t, torch.arange(batch).repeat_interleave(3))
    probe_z = _probe_surface_z(probe_x, probe_y, probe_g).reshape(batch, 3)
    points = torch.stack(
        [
            torch.stack([LEFT_SIGN * sep, torch.full_like(sep, EYE_Y), eye_z], -1),
            torch.stack([-LEFT_SIGN * sep, torch.full_like(sep, EYE_Y), eye_z], -1),
            torch.stack([torch.zeros_like(sep), tip_y, probe_z[:, 0]], -1),
            torch.stack([LEFT_SIGN * corner_x, corner_y, probe_z[:, 1]], -1),
            torch.stack([-LEFT_SIGN * corner_x, corner_y, probe_z[:, 2]], -1),
        ],
        dim=1,
    )
    return to_world(points)


def landmarks_2d(points: Tensor, cameras: Tensor, resolution: int) -> Tensor:
    """(B, 5, 3) world landmarks + (B, 25) cameras -> (B, 5, 2) pixel coordinates.

    Pixel units, x right and y down, the image's top-left corner at (0, 0): pixel (row i, column j) spans
    [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5).
    """
    return project_points(points, cameras.to(points)) * resolution

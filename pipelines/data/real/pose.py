"""Camera pose of an aligned face from its five landmarks, as an EG3D camera label (DESIGN §4).

Perspective-n-point (OpenCV's iterative solver, started from the frontal camera) finds the camera, in the
world frame of a mean 3D landmark template, that best explains the landmarks of the aligned crop under
EG3D's intrinsics (f = 4.2647, principal point 0.5, normalised by the crop size). As in EG3D's FFHQ labels,
the camera keeps its rotation and its centre is moved along its direction from the origin to radius 2.7;
the crop's framing (`align.framing_of`) makes that distance nearly right already, so the label reprojects
the template onto the crop's landmarks to a few pixels at 512 (FFHQ's quad, set by the eyes of a frontal
human face and by the mouth of a turned one, zooms the crop a few percent with yaw). Yaw and pitch are
reported in EG3D's orbit sense: those of the orbit camera (radius 2.7, looking at the pivot (0, 0, 0.2))
with the same viewing direction.

Two templates, both in EG3D's world frame (y up, the face toward +z, "left" = the image's left = -x):

- "human": the five standard landmarks of the Basel Face Model's mean face (Deep3DFaceRecon's, whose fits
  gave EG3D its FFHQ cameras) with the eyes moved from the corner midpoints to the pupils, about 4 mm
  further forward (MediaPipe's canonical face mesh): pupils 62 mm apart, nose tip 34 mm below and 38 mm in
  front of them, mouth corners 50 mm apart, 67 mm below and 5 mm in front of them (the MediaPipe mesh
  agrees within 3 mm). Scaled and placed so its FFHQ crop matches the synthetic heads' crop.
- "synthetic": the mean landmarks of 400 synthetic heads (`pipelines.data.synthetic.landmarks`, seed 0);
  the procedural heads have longer faces than people, so their poses need their own template.

Five landmarks fix pitch only through where the nose tip falls between the eyes and the mouth, and that
varies from person to person: a face whose nose tip sits lower than the template's reads as seen from
above. With a head's own 3D landmarks as the template the solve is exact; with the mean one, pitch carries
that person's deviation (docs/prepare.md, "Accuracy of the cameras").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pipelines.core.cameras import (
    DEFAULT_FOCAL,
    DEFAULT_PIVOT,
    DEFAULT_RADIUS,
    make_label,
    orbit_label,
    project_points,
)
from pipelines.errors import InvalidInputError

SYNTHETIC_TEMPLATE = np.array(
    [
        [-0.0509, 0.0250, 0.1604],
        [0.0509, 0.0250, 0.1604],
        [0.0000, -0.0426, 0.2346],
        [-0.0389, -0.1101, 0.1589],
        [0.0389, -0.1101, 0.1589],
    ]
)
"""(5, 3) mean world landmarks of the synthetic heads (LANDMARK_NAMES order)."""
HUMAN_TEMPLATE_MM = np.array(
    [[-31.1, 0.0, 0.0], [31.1, 0.0, 0.0], [0.0, -33.6, 38.4], [-25.0, -67.1, 5.4], [25.0, -67.1, 5.4]]
)
"""(5, 3) mean adult landmarks in millimetres about the pupils' midpoint (y up, z toward the viewer): the
Basel Face Model's five standard landmarks (Deep3DFaceRecon's `lm3d_std`, in 0.1 m units) made symmetric,
the eyes 3.6 mm forward."""


def _ffhq_half_size(template: np.ndarray) -> float:
    """Half-size of the FFHQ crop of a frontal orthographic view of a (5, 3) template."""
    eye_to_eye = template[1, :2] - template[0, :2]
    eye_to_mouth = (template[3, :2] + template[4, :2]) / 2 - (template[0, :2] + template[1, :2]) / 2
    return max(2.0 * float(np.hypot(*eye_to_eye)), 1.8 * float(np.hypot(*eye_to_mouth)))


def _place_like_synthetic(template_mm: np.ndarray) -> np.ndarray:
    """Scale a millimetre template so its FFHQ crop equals the synthetic one; put its eyes at theirs."""
    scale = _ffhq_half_size(SYNTHETIC_TEMPLATE) / _ffhq_half_size(template_mm)
    eyes = SYNTHETIC_TEMPLATE[:2].mean(axis=0)
    return template_mm * scale + eyes


TEMPLATES = {"human": _place_like_synthetic(HUMAN_TEMPLATE_MM), "synthetic": SYNTHETIC_TEMPLATE}


def template_view(template: str) -> np.ndarray:
    """(5, 2) normalised image positions of a template seen by the frontal default camera."""
    label = orbit_label(0.0, 0.0)
    return project_points(torch.from_numpy(TEMPLATES[template]).float()[None], label)[0].double().numpy()


@dataclass(frozen=True)
class PoseEstimate:
    """A face's camera in EG3D's convention."""

    yaw: float
    """Orbit yaw in radians (positive: camera toward +x, the subject's left)."""
    pitch: float
    """Orbit pitch in radians (positive: camera below the head)."""
    roll: float
    """In-plane rotation of the camera about its axis, radians (small after alignment)."""
    label: list[float]
    """The 25-float EG3D camera label."""
    reprojection_px: float
    """Mean distance between the landmarks and the template projected by `label`, in crop pixels."""


def _frontal_extrinsics() -> tuple[np.ndarray, np.ndarray]:
    """rvec, tvec (world -> camera) of the frontal orbit camera, PnP's starting point."""
    import cv2

    cam2world = orbit_label(0.0, 0.0)[0, :16].reshape(4, 4).double().numpy()
    world2cam = np.linalg.inv(cam2world)
    rvec, _ = cv2.Rodrigues(world2cam[:3, :3])
    return rvec, world2cam[:3, 3:].copy()


def orbit_angles(forward: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch of the orbit camera whose ray through the pivot points along `forward` (3,)."""
    forward = forward / np.linalg.norm(forward)
    pivot = np.asarray(DEFAULT_PIVOT, dtype=np.float64)
    along = float(pivot @ forward)
    distance = along + math.sqrt(max(along**2 - float(pivot @ pivot) + DEFAULT_RADIUS**2, 0.0))
    origin = pivot - distance * forward
    yaw = math.atan2(origin[0], origin[2])
    pitch = -math.pi / 2 * float(np.clip(origin[1] / DEFAULT_RADIUS, -1.0, 1.0))
    return yaw, pitch


def estimate_pose(
    landmarks: np.ndarray,
    resolution: int,
    template: str | np.ndarray = "human",
    measured: np.ndarray | None = None,
) -> PoseEstimate:
    """Estimate the EG3D camera of an aligned face crop.

    Args:
        landmarks: (5, 2) crop pixels (edge convention), LANDMARK_NAMES order.
        resolution: the crop's side in pixels.
        template: "human", "synthetic" (see the module docstring) or a (5, 3) array of world points.
        measured: (5,) bool, the landmarks to fit (estimated ones are left out); at least 3.

    Raises:
        InvalidInputError: an unknown template or fewer than 3 measured landmarks.
    """
    import cv2

    if isinstance(template, str) and template not in TEMPLATES:
        raise InvalidInputError(f"pose template {template!r}: expected one of {', '.join(TEMPLATES)}")
    use = np.ones(5, dtype=bool) if measured is None else np.asarray(measured, dtype=bool)
    if use.sum() < 3:
        raise InvalidInputError(f"pose needs at least 3 measured landmarks, got {int(use.sum())}")
    points_3d = TEMPLATES[template] if isinstance(template, str) else np.asarray(template, dtype=np.float64)
    normalised = np.asarray(landmarks, dtype=np.float64) / resolution
    intrinsics = np.array([[DEFAULT_FOCAL, 0.0, 0.5], [0.0, DEFAULT_FOCAL, 0.5], [0.0, 0.0, 1.0]])
    rvec, tvec = _frontal_extrinsics()
    _, rvec, tvec = cv2.solvePnP(
        points_3d[use], normalised[use], intrinsics, None, rvec, tvec,
        useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
    )  # fmt: skip
    rotation, _ = cv2.Rodrigues(rvec)
    centre = -rotation.T @ tvec[:, 0]
    cam2world = np.eye(4)
    cam2world[:3, :3] = rotation.T
    cam2world[:3, 3] = centre / np.linalg.norm(centre) * DEFAULT_RADIUS
    label = make_label(torch.from_numpy(cam2world).float()[None])
    yaw, pitch = orbit_angles(rotation[2])
    roll = math.atan2(-rotation[0, 1], rotation[0, 0])
    projected = project_points(torch.from_numpy(points_3d).float()[None], label)[0].double().numpy()
    error = float(np.linalg.norm((projected - normalised)[use], axis=1).mean() * resolution)
    return PoseEstimate(yaw, pitch, roll, [float(v) for v in label[0]], error)


MIRROR_ENTRIES = (1, 2, 3, 4, 8)
"""Label entries (row-major cam2world) negated by a left-right flip: [0,1], [0,2], [0,3], [1,0], [2,0]."""


def mirror_pose(pose: PoseEstimate) -> PoseEstimate:
    """The pose of the left-right flipped crop (EG3D's `flip_yaw`: world x and camera x negated)."""
    label = list(pose.label)
    for index in MIRROR_ENTRIES:
        label[index] = -label[index]
    return PoseEstimate(-pose.yaw, pose.pitch, -pose.roll, label, pose.reprojection_px)

"""FFHQ-style face alignment: a similarity crop defined by the eyes and the mouth.

The crop is FFHQ's oriented square (Karras et al. 2019): with e the eye midpoint, a = right eye - left eye
and m = mouth midpoint - e, its x axis is a - rot90(m) scaled to max(2|a|, 1.8|m|), its half-size; its
centre is e + 0.1 m. It is mapped onto the output square by one similarity transform, so the same matrix
maps landmarks and label maps (CelebAMask-HQ masks) into the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """An aligned crop and the transform that made it."""

    image: np.ndarray
    """(R, R, 3) uint8 RGB."""
    matrix: np.ndarray
    """(2, 3) similarity from source pixels to crop pixels: crop = matrix @ [x, y, 1]."""
    landmarks: np.ndarray
    """(5, 2) landmarks in crop pixels."""


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2) landmarks -> (4, 2) crop corners: top-left, bottom-left, bottom-right, top-right."""
    eye_left, eye_right = landmarks[0], landmarks[1]
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (landmarks[3] + landmarks[4]) / 2 - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x = x / max(float(np.hypot(*x)), 1e-9)
    x = x * max(float(np.hypot(*eye_to_eye)) * 2.0, float(np.hypot(*eye_to_mouth)) * 1.8)
    y = np.array([-x[1], x[0]])
    centre = eye_avg + eye_to_mouth * 0.1
    return np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])


def quad_to_square(quad: np.ndarray, resolution: int) -> np.ndarray:
    """(2, 3) similarity mapping the quad's top-left/top-right corners onto (0, 0)/(R, 0)."""
    top_left, top_right = quad[0], quad[3]
    side = top_right - top_left
    scale = resolution / max(float(np.hypot(*side)), 1e-9)
    cos, sin = side / np.hypot(*side)
    rotation = scale * np.array([[cos, sin], [-sin, cos]])
    return np.concatenate([rotation, (-rotation @ top_left)[:, None]], axis=1)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (P, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def _centre_convention(matrix: np.ndarray) -> np.ndarray:
    """An edge-convention matrix (pixel (i, j) spans [j, j + 1)) as cv2's (pixel centres at integers)."""
    out = matrix.astype(np.float64).copy()
    out[:, 2] += out[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return out


def warp(image: np.ndarray, matrix: np.ndarray, resolution: int, labels: bool = False) -> np.ndarray:
    """Warp an image (or a label map with `labels`) by a (2, 3) matrix into an R x R square.

    Coordinates follow the edge convention of the landmarks (pixel (i, j) spans [j, j + 1) x [i, i + 1)).
    Images are first shrunk by an integer factor when the crop downsamples by 2x or more (area filter, so
    the result does not alias) and sampled bicubically, borders reflected; label maps are sampled
    nearest-neighbour with background (0) outside.
    """
    import cv2

    if labels:
        return cv2.warpAffine(
            image, _centre_convention(matrix), (resolution, resolution), flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
    scale = float(np.hypot(*matrix[:, 0]))
    shrink = int(np.floor(1.0 / scale)) if scale < 0.5 else 1
    if shrink > 1:
        height, width = image.shape[:2]
        size = (max(1, width // shrink), max(1, height // shrink))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        matrix = matrix.copy()
        matrix[:, :2] *= np.array([width / size[0], height / size[1]])
    return cv2.warpAffine(
        image, _centre_convention(matrix), (resolution, resolution), flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT_101,
    )  # fmt: skip


def framing_of(template_view: np.ndarray) -> tuple[float, float, float]:
    """Where the FFHQ quad of a face lies in the camera's view: (scale, x0, y0), all normalised.

    Args:
        template_view: (5, 2) landmarks of the mean face as the default camera sees it, in [0, 1].

    Returns:
        The quad's side and its top-left corner in normalised image coordinates (it is axis-aligned for a
        frontal template).
    """
    quad = ffhq_quad(template_view)
    return float(np.hypot(*(quad[3] - quad[0]))), float(quad[0, 0]), float(quad[0, 1])


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    resolution: int = 512,
    framing: tuple[float, float, float] = (1.0, 0.0, 0.0),
) -> Alignment:
    """Crop and align a face FFHQ-style.

    Args:
        image: (H, W, 3) uint8 RGB.
        landmarks: (5, 2) pixels, RetinaFace order (pipelines.core.faces.LANDMARK_NAMES), edge convention.
        resolution: side of the square crop.
        framing: (scale, x0, y0) from `framing_of`: the FFHQ quad is mapped onto the square of side
            scale * R at (x0, y0) * R instead of onto the whole crop, so the crop frames the face the way
            EG3D's default camera frames the mean face. The default is FFHQ's own crop.
    """
    scale, x0, y0 = framing
    to_frame = np.array([[scale, 0.0, x0 * resolution], [0.0, scale, y0 * resolution]])
    ffhq = quad_to_square(ffhq_quad(landmarks), resolution)
    matrix = to_frame[:, :2] @ ffhq
    matrix[:, 2] += to_frame[:, 2]
    aligned = warp(image, matrix, resolution)
    return Alignment(aligned, matrix, transform_points(matrix, landmarks))

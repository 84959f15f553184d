"""One photo -> aligned crop and EG3D camera: the part of `prepare` that `invert` reuses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipelines.core.faces import (
    DetectorConfig,
    FaceDetection,
    FaceDetector,
    NoMainFaceError,
    load_face_detector,
    main_face,
)
from pipelines.data.real.align import Alignment, align_face, framing_of
from pipelines.data.real.decode import decode_image
from pipelines.data.real.pose import PoseEstimate, estimate_pose, template_view


@dataclass
class AlignedFace:
    """The main face of a photo: its detection, the aligned crop and the crop's camera."""

    face: FaceDetection
    alignment: Alignment
    pose: PoseEstimate


def align_and_pose(
    image: np.ndarray,
    detector: FaceDetector,
    resolution: int,
    template: str = "human",
    main_face_ratio: float = 0.5,
) -> AlignedFace:
    """Detect the main face of an (H, W, 3) uint8 image, align it FFHQ-style and estimate its camera.

    Raises:
        NoMainFaceError: no face, or several with no clear main one.
    """
    face = main_face(detector.detect(image), main_face_ratio)
    alignment = align_face(image, face.landmarks, resolution, _framing(template))
    pose = estimate_pose(alignment.landmarks, resolution, template, face.measured)
    return AlignedFace(face, alignment, pose)


@lru_cache(maxsize=4)
def _framing(template: str) -> tuple[float, float, float]:
    """How the crop frames the face for a landmark template (see align.framing_of)."""
    return framing_of(template_view(template))


def align_photo(
    path: str | Path,
    resolution: int,
    weights_dir: str | None = None,
    device: str = "cpu",
    template: str = "human",
) -> tuple[np.ndarray, list[float]]:
    """Read a photo file and return its aligned crop (R, R, 3) uint8 and 25-float camera label."""
    detector_config = DetectorConfig(weights_dir=weights_dir)
    detector = load_face_detector(detector_config, "cpu" if device == "auto" else device)
    try:
        aligned = align_and_pose(
            decode_image(path), detector, resolution, template, detector_config.main_face_ratio
        )
    except NoMainFaceError as error:
        raise NoMainFaceError(f"{path}: {error}") from error
    return aligned.alignment.image, aligned.pose.label

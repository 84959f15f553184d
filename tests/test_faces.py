"""Face detection + five landmarks (pipelines.core.faces): dlib offline, facexlib RetinaFace from a file."""

import numpy as np
import pytest
import skimage.data
import torch

from pipelines.core.faces import (
    RETINAFACE_FILES,
    DetectorConfig,
    DlibFaceDetector,
    FaceDetection,
    NoMainFaceError,
    RetinaFaceDetector,
    landmarks_from_dlib_points,
    load_face_detector,
    main_face,
)
from pipelines.errors import MissingWeightsError


def _face(x0: float, size: float) -> FaceDetection:
    box = np.array([x0, 0.0, x0 + size, size])
    return FaceDetection(box, 1.0, np.zeros((5, 2)))


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def dlib_detector():
    detector = load_face_detector(DetectorConfig(detector="dlib"))
    assert isinstance(detector, DlibFaceDetector)
    return detector


def test_dlib_finds_the_astronaut_face_with_landmarks_in_retinaface_order(astronaut, dlib_detector):
    face = main_face(dlib_detector.detect(astronaut))
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
    x0, y0, x1, y1 = face.box
    assert x0 < left_eye[0] < nose[0] < right_eye[0] < x1
    assert abs(left_eye[1] - right_eye[1]) < 5  # an upright face
    assert y0 < left_eye[1] < nose[1] < left_mouth[1] < y1 + 20
    assert left_mouth[0] < right_mouth[0]
    assert 30 < np.hypot(*(right_eye - left_eye)) < 60
    assert face.estimated == ("left_mouth", "right_mouth")
    assert face.measured.tolist() == [True, True, True, False, False]


def test_dlib_finds_the_same_face_at_another_scale(astronaut, dlib_detector):
    detector = dlib_detector
    big = np.repeat(np.repeat(astronaut, 2, axis=0), 2, axis=1)
    small_face, big_face = main_face(detector.detect(astronaut)), main_face(detector.detect(big))
    assert np.abs(big_face.landmarks / 2 - small_face.landmarks).max() < 3.0


def test_no_face_in_a_flat_image(dlib_detector):
    faces = dlib_detector.detect(np.full((300, 300, 3), 128, dtype=np.uint8))
    with pytest.raises(NoMainFaceError, match="no face found"):
        main_face(faces)


def test_main_face_needs_a_clearly_largest_face():
    assert main_face([_face(0, 100), _face(200, 40)]).box[0] == 0
    with pytest.raises(NoMainFaceError, match="2 faces found and none is clearly the main one"):
        main_face([_face(0, 100), _face(200, 90)])


def test_dlib_points_map_to_eye_centres_and_estimated_mouth():
    points = np.array([[70.0, 50], [60, 50], [30, 50], [40, 50], [50, 80]])  # right eye, left eye, nose
    landmarks = landmarks_from_dlib_points(points)
    np.testing.assert_allclose(landmarks[0], [35, 50])
    np.testing.assert_allclose(landmarks[1], [65, 50])
    np.testing.assert_allclose(landmarks[2], [50, 80 - 0.13 * 30])
    np.testing.assert_allclose(landmarks[3:, 1], 50 + 1.154 * 30)
    np.testing.assert_allclose(landmarks[3:, 0], [50 - 0.414 * 30, 50 + 0.414 * 30])


@pytest.fixture(scope="module")
def retinaface_dir(tmp_path_factory):
    """A weights home with a randomly initialised RetinaFace (mobile0.25) under its upstream file name."""
    from facexlib.detection.retinaface import RetinaFace

    home = tmp_path_factory.mktemp("weights")
    (home / "facexlib").mkdir()
    torch.manual_seed(0)
    network = RetinaFace(network_name="mobile0.25", device="cpu")
    torch.save(network.state_dict(), home / "facexlib" / RETINAFACE_FILES["retinaface_mobile0.25"])
    return home


def test_auto_uses_retinaface_when_its_weights_are_there(retinaface_dir, astronaut):
    config = DetectorConfig(
        retinaface_model="retinaface_mobile0.25", weights_dir=str(retinaface_dir), min_score=0.5
    )
    detector = load_face_detector(config)
    assert isinstance(detector, RetinaFaceDetector)
    assert detector.name == "retinaface_mobile0.25"
    for face in detector.detect(astronaut):  # random weights: any number of faces, well-formed
        assert face.landmarks.shape == (5, 2) and face.box.shape == (4,) and face.score > 0.5
        assert face.estimated == ()


def test_auto_falls_back_to_dlib_without_weights(tmp_path):
    assert isinstance(load_face_detector(DetectorConfig(weights_dir=str(tmp_path))), DlibFaceDetector)


def test_retinaface_without_weights_names_the_missing_file(tmp_path):
    config = DetectorConfig(detector="retinaface", weights_dir=str(tmp_path))
    with pytest.raises(MissingWeightsError, match="detection_Resnet50_Final.pth") as error:
        load_face_detector(config)
    assert str(tmp_path / "facexlib") in str(error.value)
    assert error.value.exit_code == 3


def test_retinaface_output_is_read_in_source_pixels_from_a_bgr_input(retinaface_dir):
    """facexlib takes BGR and returns rows [box, score, 5 x (x, y)] in the pixels of what it was given."""
    config = DetectorConfig(retinaface_model="retinaface_mobile0.25", weights_dir=str(retinaface_dir))
    detector = RetinaFaceDetector(config)
    seen = []

    def detect_faces(image, threshold):
        seen.append((image.copy(), threshold))
        row = [10, 20, 110, 140, 0.99, 30, 60, 80, 60, 55, 90, 35, 115, 75, 115]
        return np.array([row], dtype=np.float32)

    detector._model.detect_faces = detect_faces
    image = np.zeros((1024, 512, 3), dtype=np.uint8)
    image[..., 0] = 200  # red
    (face,) = detector.detect(image)
    resized, threshold = seen[0]
    assert resized.shape == (512, 256, 3) and resized[0, 0, 2] == 200 and threshold == 0.9
    np.testing.assert_allclose(face.box, [20, 40, 220, 280])
    np.testing.assert_allclose(face.landmarks[0], [60, 120])
    assert face.score == pytest.approx(0.99)


def test_dlib_detections_give_back_dlib_shapes_for_chips(astronaut, dlib_detector):
    import dlib

    from pipelines.core.faces import dlib_shape

    face = main_face(dlib_detector.detect(astronaut))
    shape = dlib_shape(face)
    assert shape.num_parts == 5
    chip = dlib.get_face_chip(astronaut, shape, size=112)
    assert chip.shape == (112, 112, 3)

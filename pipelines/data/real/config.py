"""The configuration of `prepare` on real data (the single place its defaults live)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipelines.core.faces import DetectorConfig
from pipelines.data.real.layouts import LAYOUTS
from pipelines.data.real.pose import TEMPLATES
from pipelines.errors import InvalidInputError

DEFAULT_PARSER = "facexlib:bisenet"


@dataclass(frozen=True)
class RealDataConfig:
    """How a folder of real images with captions becomes a dataset folder."""

    layout: str = "auto"
    """Source layout (pipelines.data.real.layouts.LAYOUTS); "auto" detects it."""
    resolution: int = 512
    """Side of the aligned square crops, in pixels."""
    mirror: bool = False
    """Also write each face flipped left-right, with its pose mirrored (EG3D's FFHQ recipe)."""
    parse: bool = True
    """Write 19-class parsing maps (the source's own masks, else `parser`); off: all-background maps."""
    parser: str = DEFAULT_PARSER
    """Face parser spec for images without masks (pipelines.core.parsing.load_parser)."""
    detector: DetectorConfig = DetectorConfig()
    """Face detector and main-face rule."""
    pose_template: str = "human"
    """Mean 3D landmark template of the PnP pose ("human", or "synthetic" for procedural heads)."""
    encoder: str | None = None
    """Text encoder spec; when set, caption and part-phrase features are cached."""
    workers: int = 1
    """Worker processes (the output does not depend on it)."""
    test_fraction: float = 0.1
    """Share of source images in the test split, chosen by a hash of their path (mirrors follow)."""
    max_side: int = 4096
    """Decoded images are shrunk to this longer side at most."""
    device: str = "cpu"
    """Device of the detector, parser and encoder."""

    def validate(self) -> None:
        """Raise InvalidInputError with one line for a bad value."""
        if self.layout not in LAYOUTS:
            raise InvalidInputError(f"--layout {self.layout!r}: expected one of {', '.join(LAYOUTS)}")
        if not 64 <= self.resolution <= 4096 or self.resolution % 8:
            raise InvalidInputError(f"--resolution {self.resolution}: expected a multiple of 8 in 64..4096")
        if self.pose_template not in TEMPLATES:
            raise InvalidInputError(
                f"pose template {self.pose_template!r}: expected one of {', '.join(TEMPLATES)}"
            )
        if self.workers < 1:
            raise InvalidInputError("--workers must be at least 1")
        if not 0.0 <= self.test_fraction < 1.0:
            raise InvalidInputError("test_fraction must be in [0, 1)")
        self.detector.validate()

    def to_dict(self) -> dict[str, Any]:
        """JSON form, recorded in the manifest."""
        return asdict(self)

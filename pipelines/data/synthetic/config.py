"""The configuration of one synthetic dataset build."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipelines.data.synthetic.attributes import Holdout, parse_holdout
from pipelines.errors import InvalidInputError

COMPILE_MODES = ("auto", "always", "never")
AUTO_COMPILE_MIN_IMAGES = 200
"""`compile="auto"` compiles the SDF only for sets at least this big (below, the warm-up costs more)."""


@dataclass(frozen=True)
class SyntheticConfig:
    """What `tg3dface prepare synthetic` builds. Every field is recorded in the dataset manifest."""

    num_images: int = 1000
    """Number of images (one person and one view each)."""
    resolution: int = 64
    """Image side in pixels (the CLI offers 64, 128 and 256; tests may use 32)."""
    seed: int = 0
    """Root seed; image i draws everything from numpy's default_rng([seed, i])."""
    holdout: tuple[str, ...] = ()
    """`ATTRIBUTE=VALUE[,VALUE]` items: people with any of these values go to the ood_test split only."""
    test_fraction: float = 0.1
    """Share of the other people put in the test split."""
    supersample: int = 1
    """K x K RGB samples per pixel (labels and depth stay exact pixel-centre values)."""
    meshes: bool = False
    """Also write each head as a mesh (meshes/<id>.ply, world coordinates)."""
    mesh_resolution: int = 128
    """Marching-cubes grid size per axis for --meshes."""
    workers: int = 1
    """Worker processes; the output does not depend on it."""
    batch_size: int = 16
    """Heads rendered together; fixed batches keep the output independent of the worker count."""
    compile: str = "auto"
    """"always", "never", or "auto" (compile for sets of AUTO_COMPILE_MIN_IMAGES or more)."""
    encoder: str | None = None
    """Text encoder spec for cached caption features (pipelines.core.encoders.load_encoder), or None."""
    device: str = "cpu"
    """Where rays are traced and text is encoded."""

    def validate(self) -> None:
        """Raise InvalidInputError naming the first bad field."""
        checks = (
            (self.num_images >= 1, "--num must be at least 1"),
            (self.resolution >= 16 and self.resolution % 16 == 0, "--resolution must be a multiple of 16"),
            (0.0 <= self.test_fraction < 1.0, "test_fraction must be in [0, 1)"),
            (1 <= self.supersample <= 4, "--supersample must be between 1 and 4"),
            (self.workers >= 1, "--workers must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (16 <= self.mesh_resolution <= 512, "mesh_resolution must be between 16 and 512"),
            (self.compile in COMPILE_MODES, f"compile must be one of {', '.join(COMPILE_MODES)}"),
        )
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)
        self.parsed_holdout()

    def parsed_holdout(self) -> Holdout:
        """The holdout items as attribute -> values."""
        return parse_holdout(self.holdout)

    @property
    def compiled(self) -> bool:
        """Whether this build renders through torch.compile."""
        return self.compile == "always" or (
            self.compile == "auto" and self.num_images >= AUTO_COMPILE_MIN_IMAGES
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the manifest."""
        return {**asdict(self), "holdout": list(self.holdout)}

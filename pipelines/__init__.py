"""tg3dface pipelines: the stages (prepare, train, generate, edit, invert, evaluate) and their shared core.

Importing this package is cheap; the public helpers import torch on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

DEMO_MODEL = "builtin:demo"
"""The shipped synthetic-world demo model (pipelines/assets/demo_model), default of generate and invert."""

if TYPE_CHECKING:
    import torch

    from pipelines.core.generator import TriPlaneGenerator


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> TriPlaneGenerator:
    """Rebuild a generator from a model bundle folder (config.json + generator.safetensors) or
    `builtin:demo`."""
    from pipelines.core.bundle import load_generator as _load

    return _load(path, device)


__all__ = ["DEMO_MODEL", "load_generator"]

"""Device selection: nothing in the toolkit names a device except through here."""

from __future__ import annotations

import torch

from pipelines.errors import TG3DFaceError


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn `auto`, `cpu`, `cuda` or `cuda:N` into a torch.device, checking it is usable."""
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as error:
        raise TG3DFaceError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TG3DFaceError(f"--device {spec}: CUDA is not available on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TG3DFaceError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type != "cpu":
        raise TG3DFaceError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N")
    return device

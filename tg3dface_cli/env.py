"""`tg3dface env`: versions, devices and weight locations, for bug reports."""

from __future__ import annotations

import platform

from tg3dface_cli.common import JsonOption, Output


def env(json_output: JsonOption = False) -> None:
    """Print versions, available devices and where local weights are looked for."""
    import importlib.metadata as metadata

    import torch

    from pipelines.core.config import available_presets
    from pipelines.core.io import tg3dface_version
    from pipelines.core.weights import weights_home

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    info = {
        "tg3dface": tg3dface_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": version("torchvision"),
        "open_clip_torch": version("open_clip_torch"),
        "facexlib": version("facexlib"),
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu_threads": torch.get_num_threads(),
        "weights_home": str(weights_home()),
        "presets": available_presets(),
    }
    output = Output(json_mode=json_output)
    lines = "\n".join(f"{key:16} {value}" for key, value in info.items())
    output.result(info, info["weights_home"], lines)

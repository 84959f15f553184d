"""What every benchmark in bench/ shares: how a call is timed, the machine fields of its report and how the
report is written."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path


def machine() -> dict[str, str]:
    """The torch build and CPU a figure was measured with."""
    import torch

    return {"torch": torch.__version__, "cpu": platform.processor() or platform.machine()}


def emit(report: dict, out: str | Path | None) -> None:
    """Print `report` as indented JSON and, when `out` is given, also write it there."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")


def seconds_per_call(call: Callable[[int], object], warmup: int, steps: int, device) -> float:
    """Mean wall seconds of call(i) over `steps` calls after `warmup` untimed ones (CUDA work included)."""
    import torch

    for i in range(warmup):
        call(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(warmup, warmup + steps):
        call(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps

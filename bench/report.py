"""What every benchmark in bench/ shares: the machine fields of its report and how the report is written."""

from __future__ import annotations

import json
import platform
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

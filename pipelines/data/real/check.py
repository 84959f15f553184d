"""`prepare --check`: every problem of an existing dataset folder, one line each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.core.parsing import PART_CLASSES
from pipelines.data.dataset import RECORDS_FILE, REJECTED_FILE, DatasetInfo, validate_dataset
from pipelines.errors import InvalidInputError

EXTRA_PARTS = ("makeup",)
"""Part names the caption extractor writes besides PART_CLASSES' keys."""
KNOWN_PARTS = frozenset(PART_CLASSES) | frozenset(EXTRA_PARTS)


def _camera_problems(camera: list[float], where: str) -> list[str]:
    matrix = np.asarray(camera[:16], dtype=np.float64).reshape(4, 4)
    rotation = matrix[:3, :3]
    problems = []
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3):
        problems.append(f"{where}: camera rotation is not orthonormal")
    if not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-6):
        problems.append(f"{where}: camera matrix's last row is not 0 0 0 1")
    distance = float(np.linalg.norm(matrix[:3, 3]))
    if not 0.5 <= distance <= 10.0:
        problems.append(f"{where}: camera is {distance:.2f} from the origin, expected about 2.7")
    intrinsics = np.asarray(camera[16:], dtype=np.float64).reshape(3, 3)
    if intrinsics[0, 0] <= 0 or intrinsics[1, 1] <= 0 or not np.allclose(intrinsics[2], [0, 0, 1]):
        problems.append(f"{where}: intrinsics are not a normalised pinhole matrix")
    return problems


def _record_problems(info: DatasetInfo) -> list[str]:
    problems = []
    for number, record in enumerate(info.records, start=1):
        where = f"{info.root / RECORDS_FILE} line {number}"
        problems += _camera_problems(record["camera"], where)
        for entry in record["parts"]:
            unknown = sorted(set(entry) - KNOWN_PARTS)
            if unknown:
                problems.append(f"{where}: unknown part name(s) {', '.join(unknown)}")
            if any(not phrase.strip() for phrase in entry.values()):
                problems.append(f"{where}: empty part phrase")
    return problems


def _rejected_problems(root: Path) -> list[str]:
    path = root / REJECTED_FILE
    if not path.is_file():
        return []
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
            valid = isinstance(entry, dict) and isinstance(entry.get("source"), str) and entry.get("reason")
        except json.JSONDecodeError:
            valid = False
        if not valid:
            problems.append(f'{path} line {number}: expected {{"source", "reason"}}')
    return problems


def check_dataset(path: str | Path) -> list[str]:
    """Validate a dataset folder deeply and list every problem found (empty when it is sound).

    The structural check (`validate_dataset(deep=True)`) stops at its first problem; when it passes, every
    record's camera and part names and rejected.jsonl are checked too.
    """
    root = Path(path)
    try:
        info = validate_dataset(root, deep=True)
    except InvalidInputError as error:
        return [str(error)]
    return _record_problems(info) + _rejected_problems(root)

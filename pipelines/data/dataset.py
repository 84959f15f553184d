"""The dataset folder (DESIGN §3.1): its writer, validator and reader, shared by real and synthetic data.

```
DATA/manifest.json       kind "dataset": source, resolution, counts per split, text_embeddings, rejected
DATA/records.jsonl       one JSON object per image (RECORD_KEYS, plus SYNTHETIC_KEYS for synthetic sets)
DATA/dataset.json        EG3D labels: {"labels": [["images/000000.png", [25 floats]], ...]}
DATA/splits.json         {"train": [ids], "test": [ids], "ood_test": [ids]}
DATA/images/*.png        RGB, square, at the dataset resolution
DATA/parsing/*.png       uint8 label maps, the 19 CelebAMask-HQ classes (pipelines.data.labels)
DATA/depth/*.npy         synthetic only: float32 (H, W) distance along each pixel-centre ray, inf = none
DATA/text_embeddings.safetensors   optional (pipelines.data.text_cache)
DATA/rejected.jsonl      optional: {"source", "reason"} per skipped input
```
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipelines.core.io import manifest_header, write_json_atomic
from pipelines.data.labels import NUM_PARSING_CLASSES, PARSING_CLASSES
from pipelines.errors import InvalidInputError

MANIFEST_FILE = "manifest.json"
RECORDS_FILE = "records.jsonl"
EG3D_LABELS_FILE = "dataset.json"
SPLITS_FILE = "splits.json"
REJECTED_FILE = "rejected.jsonl"
SPLITS = ("train", "test", "ood_test")
CAMERA_SIZE = 25
NUM_LANDMARKS = 5
RECORD_KEYS = ("id", "image", "parsing", "camera", "captions", "parts", "split")
SYNTHETIC_KEYS = ("depth", "landmarks", "landmarks_3d", "attributes", "head")


def record_id(index: int) -> str:
    """The id (and file stem) of the index-th image: "000017"."""
    return f"{index:06d}"


def save_png(path: Path, array: np.ndarray) -> None:
    """Write an (H, W, 3) RGB or (H, W) label uint8 array as PNG (deterministic bytes)."""
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG", compress_level=6)


class DatasetWriter:
    """Builds a dataset folder's index files as records arrive, in order; images are written by the caller.

    Use inside a temporary folder (`pipelines.core.io.staged_folder`); `finish` writes the manifest last.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._records = open(self.root / RECORDS_FILE, "w", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self._labels: list[list[Any]] = []
        self._splits: dict[str, list[str]] = {split: [] for split in SPLITS}
        self._texts: set[str] = set()

    def add(self, record: dict[str, Any]) -> None:
        """Append one record (a dict with at least RECORD_KEYS)."""
        self._records.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        self._labels.append([record["image"], record["camera"]])
        self._splits[record["split"]].append(record["id"])
        self._texts.update(record["captions"])
        self._texts.update(phrase for parts in record["parts"] for phrase in parts.values())

    @property
    def counts(self) -> dict[str, int]:
        """Images per split so far."""
        return {split: len(ids) for split, ids in self._splits.items()}

    def texts(self) -> list[str]:
        """Every distinct caption and part phrase so far, sorted."""
        return sorted(self._texts)

    def finish(
        self, source: str, resolution: int, text_embeddings: dict[str, Any] | None, **extra: Any
    ) -> dict:
        """Write dataset.json, splits.json and manifest.json; returns the manifest."""
        self._records.close()
        write_json_atomic(self.root / EG3D_LABELS_FILE, {"labels": self._labels})
        write_json_atomic(self.root / SPLITS_FILE, self._splits)
        rejected = self.root / REJECTED_FILE
        manifest = manifest_header(
            "dataset",
            source=source,
            resolution=resolution,
            num_images=len(self._labels),
            counts=self.counts,
            parsing_classes=list(PARSING_CLASSES),
            text_embeddings=text_embeddings,
            rejected=sum(1 for _ in open(rejected, encoding="utf-8")) if rejected.exists() else 0,
            **extra,
        )
        write_json_atomic(self.root / MANIFEST_FILE, manifest)
        return manifest


@dataclass
class DatasetInfo:
    """A validated dataset folder: its manifest and records."""

    root: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]] = field(repr=False)

    @property
    def resolution(self) -> int:
        return int(self.manifest["resolution"])

    @property
    def is_synthetic(self) -> bool:
        """Whether the set comes from `prepare synthetic` (records carry true attributes and heads)."""
        return self.manifest.get("source") == "synthetic"

    def split(self, name: str) -> list[dict[str, Any]]:
        """The records of one split."""
        return [r for r in self.records if r["split"] == name]

    def load_image(self, record: dict[str, Any]) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        return np.asarray(Image.open(self.root / record["image"]).convert("RGB"))

    def load_parsing(self, record: dict[str, Any]) -> np.ndarray:
        """(H, W) uint8 labels."""
        return np.asarray(Image.open(self.root / record["parsing"]))

    def load_depth(self, record: dict[str, Any]) -> np.ndarray:
        """(H, W) float32 depth (synthetic sets)."""
        return np.load(self.root / record["depth"])


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise InvalidInputError(f"{path}: missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path}: not valid JSON ({error})") from error


def _iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InvalidInputError(f"{path}: missing")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError(f"{path} line {number}: not valid JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise InvalidInputError(f"{path} line {number}: expected a JSON object")
            yield number, record


def _check_numbers(value: Any, shape: tuple[int, ...], what: str, where: str) -> None:
    array = np.asarray(value, dtype=object)
    if array.shape != shape:
        raise InvalidInputError(f"{where}: {what} has shape {list(array.shape)}, expected {list(shape)}")
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in array.flat
    ):
        raise InvalidInputError(f"{where}: {what} must hold finite numbers")


def _check_file(root: Path, relative: Any, what: str, where: str, suffix: str) -> Path:
    if (
        not isinstance(relative, str)
        or not relative.endswith(suffix)
        or Path(relative).is_absolute()
        or ".." in Path(relative).parts
    ):
        raise InvalidInputError(f"{where}: {what} must be a relative {suffix} path inside the folder")
    path = root / relative
    if not path.is_file():
        raise InvalidInputError(f"{where}: {what} file {relative} is missing")
    return path


def _check_record(record: dict[str, Any], root: Path, resolution: int, synthetic: bool, where: str) -> None:
    keys = RECORD_KEYS + (SYNTHETIC_KEYS if synthetic else ())
    missing = [k for k in keys if k not in record]
    if missing:
        raise InvalidInputError(f"{where}: missing {', '.join(missing)}")
    camera = record["camera"]
    if not isinstance(camera, list) or len(camera) != CAMERA_SIZE:
        count = len(camera) if isinstance(camera, list) else "no list of"
        raise InvalidInputError(f"{where}: camera label has {count} values, expected {CAMERA_SIZE}")
    _check_numbers(camera, (CAMERA_SIZE,), "camera label", where)
    captions, parts = record["captions"], record["parts"]
    if (
        not isinstance(captions, list)
        or not captions
        or not all(isinstance(c, str) and c.strip() for c in captions)
    ):
        raise InvalidInputError(f"{where}: captions must be a non-empty list of non-empty strings")
    if not isinstance(parts, list) or len(parts) != len(captions):
        raise InvalidInputError(f"{where}: parts must be a list with one entry per caption ({len(captions)})")
    for i, entry in enumerate(parts):
        if not isinstance(entry, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
        ):
            raise InvalidInputError(f"{where}: parts[{i}] must map part names to phrases")
    if record["split"] not in SPLITS:
        raise InvalidInputError(f"{where}: split {record['split']!r} is not one of {', '.join(SPLITS)}")
    image = _check_file(root, record["image"], "image", where, ".png")
    parsing = _check_file(root, record["parsing"], "parsing", where, ".png")
    for path, mode in ((image, "RGB"), (parsing, "L")):
        with Image.open(path) as opened:
            if opened.size != (resolution, resolution) or opened.mode != mode:
                raise InvalidInputError(
                    f"{where}: {path.name} is {opened.mode} {opened.size[0]}x{opened.size[1]}, "
                    f"expected {mode} {resolution}x{resolution}"
                )
    if synthetic:
        _check_file(root, record["depth"], "depth", where, ".npy")
        _check_numbers(record["landmarks"], (NUM_LANDMARKS, 2), "landmarks", where)
        _check_numbers(record["landmarks_3d"], (NUM_LANDMARKS, 3), "landmarks_3d", where)
        if not isinstance(record["attributes"], dict) or not isinstance(record["head"], dict):
            raise InvalidInputError(f"{where}: attributes and head must be JSON objects")


def _check_deep(info: DatasetInfo) -> None:
    """Decode every label map and depth map (slow: reads every file)."""
    for number, record in enumerate(info.records, start=1):
        where = f"{info.root / RECORDS_FILE} line {number}"
        top = int(info.load_parsing(record).max())
        if top >= NUM_PARSING_CLASSES:
            raise InvalidInputError(
                f"{where}: {record['parsing']} has label {top}, expected < {NUM_PARSING_CLASSES}"
            )
        if "depth" in record:
            depth = info.load_depth(record)
            if depth.dtype != np.float32 or depth.shape != (info.resolution, info.resolution):
                raise InvalidInputError(
                    f"{where}: {record['depth']} is {depth.dtype} {depth.shape}, expected float32"
                )


def _check_index_files(info: DatasetInfo) -> None:
    root, records = info.root, info.records
    labels = _load_json(root / EG3D_LABELS_FILE).get("labels")
    expected = [[r["image"], r["camera"]] for r in records]
    if labels != expected:
        raise InvalidInputError(
            f"{root / EG3D_LABELS_FILE}: labels do not match {RECORDS_FILE} (images or cameras)"
        )
    splits = _load_json(root / SPLITS_FILE)
    if splits != {s: [r["id"] for r in records if r["split"] == s] for s in SPLITS}:
        raise InvalidInputError(f"{root / SPLITS_FILE}: does not match the splits in {RECORDS_FILE}")
    counts = {s: len(splits[s]) for s in SPLITS}
    if info.manifest.get("counts") != counts or info.manifest.get("num_images") != len(records):
        raise InvalidInputError(
            f"{root / MANIFEST_FILE}: counts {info.manifest.get('counts')} do not match {counts}"
        )


def validate_dataset(path: str | Path, deep: bool = False) -> DatasetInfo:
    """Check a dataset folder against the format above; raise InvalidInputError with one line if not.

    Checks the manifest, every record (keys, camera size, captions and parts, split, files present with the
    right size and mode), and that dataset.json, splits.json and the manifest's counts agree with the
    records. `deep` also decodes every label and depth map and checks the text-embedding cache.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a dataset folder")
    manifest = _load_json(root / MANIFEST_FILE)
    if not isinstance(manifest, dict) or manifest.get("kind") != "dataset":
        raise InvalidInputError(
            f"{root / MANIFEST_FILE}: kind is {manifest.get('kind')!r}, expected 'dataset'"
        )
    resolution = manifest.get("resolution")
    if not isinstance(resolution, int) or resolution <= 0:
        raise InvalidInputError(f"{root / MANIFEST_FILE}: resolution must be a positive integer")
    synthetic = manifest.get("source") == "synthetic"
    records, ids = [], set()
    for number, record in _iter_records(root / RECORDS_FILE):
        where = f"{root / RECORDS_FILE} line {number}"
        _check_record(record, root, resolution, synthetic, where)
        if record["id"] in ids:
            raise InvalidInputError(f"{where}: duplicate id {record['id']!r}")
        ids.add(record["id"])
        records.append(record)
    info = DatasetInfo(root, manifest, records)
    _check_index_files(info)
    if deep:
        _check_deep(info)
        if manifest.get("text_embeddings"):
            from pipelines.data.text_cache import TextCache

            cache = TextCache.open(root)
            cache.lookup(
                sorted(
                    {t for r in records for t in r["captions"] + [p for e in r["parts"] for p in e.values()]}
                )
            )
    return info


def read_dataset(path: str | Path) -> DatasetInfo:
    """Open a dataset folder for reading (validated, without decoding every file)."""
    return validate_dataset(path, deep=False)

"""One source item -> aligned crop(s), parsing, camera, part phrases, written into the work folder.

`process_item` runs in the main process or a worker. It decodes the image, finds the main face, aligns it,
estimates its camera, makes its parsing (the source's masks warped by the same transform, or the parser),
optionally the mirrored copy, and writes `<work>/files/<stem>*.png` then `<work>/done/<stem>.json` last,
so an item is finished exactly when its JSON exists (what `--resume` relies on). An input that cannot be
used is a JSON with a reason instead; only setup problems (missing weights) raise.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.core.faces import FaceDetector, NoMainFaceError, load_face_detector
from pipelines.core.io import write_json_atomic
from pipelines.data.dataset import save_png
from pipelines.data.real.align import transform_points, warp
from pipelines.data.real.config import RealDataConfig
from pipelines.data.real.decode import RejectedError, decode_image
from pipelines.data.real.layouts import SourceItem
from pipelines.data.real.masks import celebamask_label_map
from pipelines.data.real.parts import captions_parts
from pipelines.data.real.pose import PoseEstimate, mirror_pose
from pipelines.data.real.single import align_and_pose

MIRRORED_CLASSES = np.array(
    [0, 1, 2, 3, 5, 4, 7, 6, 9, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18], dtype=np.uint8
)
"""CelebAMask-HQ label of each label after a left-right flip (l_eye <-> r_eye, brows, ears)."""


def item_stem(key: str) -> str:
    """File stem of an item in the work folder: a hash of its source key."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def item_split(key: str, test_fraction: float) -> str:
    """ "test" for a fixed share of keys (by hash), else "train"."""
    value = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32
    return "test" if value < test_fraction else "train"


@lru_cache(maxsize=2)
def _detector(config: RealDataConfig) -> FaceDetector:
    """The face detector one process needs (built once per process and configuration)."""
    return load_face_detector(config.detector, config.device)


@lru_cache(maxsize=2)
def _parser(config: RealDataConfig) -> Any:
    """The parser of `config` (loaded on first need: sources with masks may never need it)."""
    from pipelines.core.parsing import load_parser

    return load_parser(config.parser, config.device, config.detector.weights_dir)


def load_tools(config: RealDataConfig, with_parser: bool) -> None:
    """Build the models now, so missing weights fail before any work starts."""
    _detector(config)
    if with_parser:
        _parser(config)


def _parsing(
    item: SourceItem,
    image_shape: tuple[int, ...],
    aligned: np.ndarray,
    matrix: np.ndarray,
    config: RealDataConfig,
) -> tuple[np.ndarray, str]:
    """(R, R) uint8 labels of the aligned crop and where they came from."""
    resolution = config.resolution
    if not config.parse:
        return np.zeros((resolution, resolution), dtype=np.uint8), "none"
    if item.masks is not None:
        labels = celebamask_label_map(item.masks, int(item.image.stem))
        if labels is not None:
            scale = np.diag([image_shape[1] / labels.shape[1], image_shape[0] / labels.shape[0]])
            mask_matrix = np.concatenate([matrix[:, :2] @ scale, matrix[:, 2:]], axis=1)
            return warp(labels, mask_matrix, resolution, labels=True), "celebamask-hq"
    parser = _parser(config)
    return parse_image(parser, aligned), parser.parser_id


def parse_image(parser: Any, image: np.ndarray) -> np.ndarray:
    """(R, R, 3) uint8 RGB -> (R, R) uint8 CelebAMask-HQ labels, by a parser of pipelines.core.parsing."""
    import torch

    device = next(parser.parameters()).device
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        probabilities = parser(pixels.to(device) / 127.5 - 1.0)
    return probabilities.argmax(dim=1)[0].to("cpu", torch.uint8).numpy()


def _variant(
    stem: str,
    image: np.ndarray,
    labels: np.ndarray,
    pose: PoseEstimate,
    landmarks: np.ndarray,
    mirror: bool,
    files: Path,
) -> dict[str, Any]:
    """Write one crop (and its parsing) and return its part of the item's result."""
    name = f"{stem}.mirror" if mirror else stem
    save_png(files / f"{name}.png", image)
    save_png(files / f"{name}.parsing.png", labels)
    return {
        "image": f"{name}.png",
        "parsing": f"{name}.parsing.png",
        "camera": pose.label,
        "landmarks": np.round(landmarks, 3).tolist(),
        "pose": {
            "yaw_deg": round(math.degrees(pose.yaw), 3),
            "pitch_deg": round(math.degrees(pose.pitch), 3),
            "roll_deg": round(math.degrees(pose.roll), 3),
            "reprojection_px": round(pose.reprojection_px, 3),
        },
        "mirror": mirror,
    }


def _process(item: SourceItem, config: RealDataConfig, files: Path) -> dict[str, Any]:
    """Decode, detect, align, pose, parse (and mirror) one item; its result without the key."""
    image = decode_image(item.image, max_side=config.max_side)
    found = align_and_pose(
        image, _detector(config), config.resolution, config.pose_template, config.detector.main_face_ratio
    )
    face, aligned, pose = found.face, found.alignment, found.pose
    labels, parsing_source = _parsing(item, image.shape, aligned.image, aligned.matrix, config)
    stem = item_stem(item.key)
    variants = [_variant(stem, aligned.image, labels, pose, aligned.landmarks, False, files)]
    if config.mirror:
        flip = np.array([[-1.0, 0.0, config.resolution], [0.0, 1.0, 0.0]])
        flipped_landmarks = transform_points(flip, aligned.landmarks)[[1, 0, 2, 4, 3]]
        flipped_labels = MIRRORED_CLASSES[labels[:, ::-1]]
        mirrored = _variant(
            stem, aligned.image[:, ::-1], flipped_labels, mirror_pose(pose), flipped_landmarks, True, files
        )
        variants.append(mirrored)
    return {
        "status": "ok",
        "captions": list(item.captions),
        "parts": captions_parts(list(item.captions)),
        "split": item_split(item.key, config.test_fraction),
        "detector": _detector(config).name,
        "score": round(face.score, 4),
        "parsing_source": parsing_source,
        "variants": variants,
    }


def process_item(item: SourceItem, config: RealDataConfig, work: str | Path) -> dict[str, Any]:
    """Process one item into `work` and return its result (also written as done/<stem>.json).

    Returns:
        {"key", "status": "ok", captions, parts, split, detector, score, parsing_source, variants} or
        {"key", "status": "rejected", "reason"}.
    """
    work = Path(work)
    try:
        result = _process(item, config, work / "files")
    except (RejectedError, NoMainFaceError) as error:
        result = {"status": "rejected", "reason": str(error)}
    result = {"key": item.key, **result}
    write_json_atomic(work / "done" / f"{item_stem(item.key)}.json", result)
    return result

"""CelebAMask-HQ's per-part mask files combined into one 19-class label map.

CelebAMask-HQ ships `CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png`: one 512 x 512 binary
image per part present, named by the class names of `pipelines.data.labels.PARSING_CLASSES`. Parts are
painted in class order, so a later class wins where two overlap (as the data set's own combining script
does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.data.labels import PARSING_CLASSES
from pipelines.data.real.decode import RejectedError

FILES_PER_FOLDER = 2000


def celebamask_files(anno_dir: Path, image_id: int) -> dict[int, Path]:
    """Class label -> mask file, for the parts this image has."""
    folder = anno_dir / str(image_id // FILES_PER_FOLDER)
    files = {}
    for label, name in enumerate(PARSING_CLASSES):
        path = folder / f"{image_id:05d}_{name}.png"
        if label and path.is_file():
            files[label] = path
    return files


def celebamask_label_map(anno_dir: Path, image_id: int) -> np.ndarray | None:
    """(S, S) uint8 label map of one image, or None when it has no mask files.

    Raises:
        RejectedError: a mask file is corrupt or the files disagree in size.
    """
    from PIL import Image

    files = celebamask_files(anno_dir, image_id)
    if not files:
        return None
    labels: np.ndarray | None = None
    for label, path in files.items():
        try:
            with Image.open(path) as opened:
                mask = np.asarray(opened.convert("L")) > 127
        except (OSError, ValueError) as error:
            raise RejectedError(f"mask {path.name} is corrupt ({error})") from error
        if labels is None:
            labels = np.zeros(mask.shape, dtype=np.uint8)
        if mask.shape != labels.shape:
            raise RejectedError(f"mask {path.name} is {mask.shape[1]}x{mask.shape[0]}, unlike the others")
        labels[mask] = label
    return labels

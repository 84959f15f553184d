"""The 19 CelebAMask-HQ parsing classes (DESIGN §5.4), the order every label map on disk uses."""

from __future__ import annotations

import numpy as np

PARSING_CLASSES = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)  # fmt: skip
"""Class names by label value. "l_" parts are on the image's left in a frontal view (the subject's right)."""
NUM_PARSING_CLASSES = len(PARSING_CLASSES)

PALETTE = np.array(
    [
        [0, 0, 0], [204, 0, 0], [76, 153, 0], [204, 204, 0], [51, 51, 255], [204, 0, 204], [0, 255, 255],
        [255, 204, 204], [102, 51, 0], [255, 0, 0], [102, 204, 0], [255, 255, 0], [0, 0, 153], [0, 0, 204],
        [255, 51, 153], [0, 204, 204], [0, 51, 0], [255, 153, 51], [0, 204, 0],
    ],
    dtype=np.uint8,
)  # fmt: skip
"""Display colour per class (the colours CelebAMask-HQ's own visualisation uses)."""


def colorize(labels: np.ndarray) -> np.ndarray:
    """(H, W) uint8 labels -> (H, W, 3) uint8 colour image for viewing."""
    return PALETTE[labels]

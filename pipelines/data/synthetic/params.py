"""The head parameter vector: one float32 row per head, the exact recipe of its geometry and colours.

A record stores this row (as a name -> value dict) so the head can be rebuilt exactly. Lengths are in head
units (y up, the face toward +z; 1 unit is about 0.55 m); flags are 0.0 or 1.0; colours are linear RGB in
[0, 1]. The meaning of each entry is next to its name.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from pipelines.errors import InvalidInputError

_SHAPE = (
    ("head_w", "cranium half-width"),
    ("head_h", "cranium half-height"),
    ("jaw_w", "jaw half-width"),
    ("face_len", "face length factor (scales the jaw, chin and mouth height)"),
    ("chin", "chin protrusion, 0..1"),
    ("chin_w", "chin half-width"),
    ("jaw_corner", "size of the jaw-angle lobes (square faces), 0..1"),
    ("cheek", "cheekbone size factor"),
    ("cheek_full", "lower-cheek fullness (round faces, jowls), 0..1"),
    ("brow_ridge", "brow-ridge protrusion, 0..1"),
    ("eye_sep", "half distance between the eye centres"),
    ("eye_size", "eye size factor"),
    ("eye_tilt", "outer eye corner lift (canthal tilt), -1..1"),
    ("nose_len", "nose length factor"),
    ("nose_w", "nose width factor"),
    ("nose_proj", "nose tip projection, in head units"),
    ("brow_thick", "eyebrow half-thickness"),
    ("brow_h", "eyebrow height above the eye centre"),
    ("brow_arch", "eyebrow curvature factor"),
    ("lip_full", "lip fullness factor"),
    ("mouth_w", "mouth width factor"),
    ("smile", "mouth-corner lift, -0.1..1"),
    ("mouth_open", "lip parting, 0..1"),
    ("ear_size", "ear size factor"),
    ("neck_r", "neck radius"),
    ("adam", "Adam's apple, 0 or 1"),
    ("wrinkles", "age lines and shading, 0..1"),
    ("eyeliner", "dark eye rims, 0..1"),
)
_HAIR = (
    ("hair_style", "0 bald, 1 short, 2 medium, 3 long"),
    ("hair_vol", "hair volume above the scalp"),
    ("hair_len", "how far medium and long hair falls below the crown"),
    ("bangs", "fringe flag"),
    ("bangs_side", "sideways shift of the fringe"),
    ("wavy", "wave amplitude factor, 0..1"),
    ("recede", "temple recession, 0..1"),
)
_ACCESSORIES = (
    ("glasses", "eyeglasses flag (frames)"),
    ("sunglasses", "dark filled lenses flag"),
    ("glasses_h", "lens height factor, 0..1"),
    ("beard", "full beard flag"),
    ("beard_thick", "beard thickness"),
    ("mustache", "mustache flag"),
    ("earrings", "earring flag"),
    ("necklace", "necklace flag"),
    ("hat", "beanie flag"),
)
_COLOURS = (
    "skin",
    "hair",
    "brow",
    "iris",
    "lip",
    "cloth",
    "frame",
    "metal",
    "hat_col",
    "bg_top",
    "bg_bottom",
)
_LIGHT = (
    ("light_x", "key light direction x"),
    ("light_y", "key light direction y"),
    ("light_z", "key light direction z"),
    ("ambient", "ambient light level"),
)

PARAM_DOCS: dict[str, str] = {
    **dict(_SHAPE),
    **dict(_HAIR),
    **dict(_ACCESSORIES),
    **{f"{c}_{k}": f"{c} colour, {k} channel" for c in _COLOURS for k in "rgb"},
    **dict(_LIGHT),
}
"""Every parameter name, in vector order, with its meaning."""

PARAM_NAMES: tuple[str, ...] = tuple(PARAM_DOCS)
PARAM_INDEX: dict[str, int] = {name: i for i, name in enumerate(PARAM_NAMES)}
NUM_PARAMS = len(PARAM_NAMES)


class HeadParams:
    """Per-ray view of a batch of head parameter rows.

    `params_t` is the (P, B) transposed parameter matrix (contiguous rows gather far faster than strided
    columns) and `head_index` the (N,) head of each point; `g["jaw_w"]` is then an (N,) tensor. Inside
    `torch.compile` the gathers fuse into the SDF kernel.
    """

    def __init__(self, params_t: Tensor, head_index: Tensor) -> None:
        self.params_t = params_t
        self.head_index = head_index

    def __getitem__(self, name: str) -> Tensor:
        return self.params_t[PARAM_INDEX[name]][self.head_index]

    def colour(self, name: str) -> Tensor:
        """(N, 3) colour parameter `name` (e.g. "skin")."""
        return torch.stack([self[f"{name}_r"], self[f"{name}_g"], self[f"{name}_b"]], dim=-1)


def params_to_dict(row: np.ndarray) -> dict[str, float]:
    """A (P,) parameter row as the name -> value dict stored in records."""
    return {name: float(value) for name, value in zip(PARAM_NAMES, row.tolist(), strict=True)}


def params_from_dict(data: Mapping[str, float], where: str = "head") -> np.ndarray:
    """Inverse of `params_to_dict`; `where` names the source in errors."""
    missing = [name for name in PARAM_NAMES if name not in data]
    if missing:
        raise InvalidInputError(f"{where}: head parameters lack {', '.join(missing[:3])}")
    return np.array([float(data[name]) for name in PARAM_NAMES], dtype=np.float32)

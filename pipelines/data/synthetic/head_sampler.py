"""Attributes -> one head parameter row: face archetypes, gendered and aged proportions, colours, light.

The attributes fix what captions state; everything else (exact proportions, cloth, background, light) is
drawn from `rng` so two people with the same attributes still look different.
"""

from __future__ import annotations

import numpy as np

from pipelines.data.synthetic.attributes import Attributes
from pipelines.data.synthetic.params import PARAM_NAMES

SKIN_RGB = {
    "pale": (0.96, 0.82, 0.72), "fair": (0.92, 0.74, 0.60), "light brown": (0.80, 0.60, 0.45),
    "olive": (0.72, 0.55, 0.38), "brown": (0.52, 0.35, 0.23), "dark": (0.33, 0.22, 0.15),
}  # fmt: skip
HAIR_RGB = {
    "black": (0.06, 0.05, 0.05), "dark brown": (0.20, 0.12, 0.07), "brown": (0.40, 0.25, 0.13),
    "blond": (0.88, 0.74, 0.45), "red": (0.70, 0.25, 0.09), "auburn": (0.50, 0.18, 0.10),
    "gray": (0.55, 0.55, 0.56), "white": (0.90, 0.90, 0.88), "blue": (0.15, 0.32, 0.85),
    "pink": (0.95, 0.48, 0.72), "purple": (0.50, 0.25, 0.70), "green": (0.20, 0.60, 0.30),
}  # fmt: skip
EYE_RGB = {
    "brown": (0.35, 0.20, 0.10), "dark brown": (0.18, 0.10, 0.06), "blue": (0.25, 0.50, 0.90),
    "green": (0.25, 0.60, 0.30), "gray": (0.55, 0.60, 0.65), "hazel": (0.55, 0.45, 0.20),
}  # fmt: skip
CLOTH_RGB = (
    (0.15, 0.2, 0.45), (0.8, 0.8, 0.8), (0.1, 0.1, 0.1), (0.6, 0.15, 0.15), (0.2, 0.5, 0.3),
    (0.85, 0.7, 0.3), (0.45, 0.3, 0.55), (0.3, 0.45, 0.6), (0.55, 0.4, 0.3),
)  # fmt: skip
LIPSTICK_RGB = (0.80, 0.12, 0.18)

# Face archetypes: (jaw_w, face_len, chin, chin_w, jaw_corner, cheek, cheek_full) ranges, before gender.
_ARCHETYPES: dict[str, tuple[tuple[float, float], ...]] = {
    "oval": ((0.094, 0.102), (0.98, 1.03), (0.2, 0.5), (0.036, 0.042), (0.0, 0.2), (0.97, 1.03), (0.1, 0.3)),
    "round": ((0.104, 0.112), (0.92, 0.96), (0.0, 0.25), (0.042, 0.05), (0.0, 0.25), (1.0, 1.06), (0.7, 1.0)),
    "square": (
        (0.106, 0.116),
        (0.96, 1.02),
        (0.4, 0.8),
        (0.048, 0.056),
        (0.7, 1.0),
        (0.98, 1.04),
        (0.2, 0.4),
    ),
    "heart-shaped": (
        (0.088, 0.096),
        (0.96, 1.01),
        (0.2, 0.5),
        (0.028, 0.034),
        (0.0, 0.1),
        (1.05, 1.12),
        (0.0, 0.2),
    ),
    "long": ((0.09, 0.098), (1.06, 1.12), (0.3, 0.7), (0.034, 0.042), (0.1, 0.4), (0.94, 1.0), (0.0, 0.2)),
}
_NOSES = {
    "small": ((0.78, 0.88), (0.8, 0.95), (-0.004, 0.0)),
    "straight": ((0.88, 0.98), (0.95, 1.1), (0.0, 0.003)),
    "big": ((0.98, 1.08), (1.12, 1.3), (0.003, 0.008)),
}
"""Nose size: (nose_len, nose_w, nose_proj) ranges."""
_BROWS = {"thin": ((0.0028, 0.0035), (0.6, 1.0)), "arched": ((0.0035, 0.0045), (1.6, 2.2)),
          "thick": ((0.0052, 0.0062), (0.6, 1.1)), "bushy": ((0.0065, 0.0078), (0.5, 1.0))}  # fmt: skip
_HAIR_STYLE = {"bald": 0.0, "short": 1.0, "medium": 2.0, "long": 3.0}


def _jitter(rng: np.random.Generator, rgb: tuple[float, float, float], amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb) * (1.0 + rng.uniform(-amount, amount, 3)), 0.0, 1.0)


def _shape(a: Attributes, rng: np.random.Generator) -> dict[str, float]:
    female, old = a.gender == "female", a.age == "old"
    jaw_w, face_len, chin, chin_w, corner, cheek, full = (
        rng.uniform(lo, hi) for lo, hi in _ARCHETYPES[a.face_shape]
    )
    nose_len, nose_w, nose_proj = (rng.uniform(lo, hi) for lo, hi in _NOSES[a.nose])
    brow_thick, brow_arch = (rng.uniform(lo, hi) for lo, hi in _BROWS[a.eyebrows])
    age_level = {"young": 0.0, "middle-aged": 0.5, "old": 1.0}[a.age]
    return {
        "head_w": rng.uniform(0.128, 0.135) if female else rng.uniform(0.134, 0.143),
        "head_h": rng.uniform(0.166, 0.176),
        "jaw_w": jaw_w * (1.0 if female else 1.09),
        "face_len": face_len * (0.98 if female else 1.02),
        "chin": chin * (0.5 if female else 1.2),
        "chin_w": chin_w * (0.92 if female else 1.06),
        "jaw_corner": corner * (0.6 if female else 1.0),
        "cheek": cheek,
        "cheek_full": min(1.0, full + (0.35 if old else 0.0)),
        "brow_ridge": rng.uniform(0.0, 0.2) if female else rng.uniform(0.5, 1.0),
        "eye_sep": rng.uniform(0.045, 0.051),
        "eye_size": rng.uniform(1.04, 1.14) if female else rng.uniform(0.96, 1.06),
        "eye_tilt": rng.uniform(-0.4, 0.8),
        "nose_len": nose_len * (1.0 + 0.05 * age_level),
        "nose_w": nose_w * (0.95 if female else 1.03),
        "nose_proj": nose_proj,
        "brow_thick": brow_thick,
        "brow_h": rng.uniform(0.028, 0.034) if female else rng.uniform(0.024, 0.029),
        "brow_arch": brow_arch,
        "lip_full": (rng.uniform(1.0, 1.35) if female else rng.uniform(0.75, 1.0)) * (1.0 - 0.2 * age_level),
        "mouth_w": rng.uniform(0.92, 1.08),
        "smile": rng.uniform(0.6, 1.0) if a.smiling else rng.uniform(-0.1, 0.1),
        "mouth_open": rng.uniform(0.6, 1.0) if a.mouth_open else 0.0,
        "ear_size": rng.uniform(0.92, 1.05) * (1.0 + 0.1 * age_level),
        "neck_r": rng.uniform(0.068, 0.076) if female else rng.uniform(0.08, 0.09),
        "adam": 0.0 if female else 1.0,
        "wrinkles": age_level * rng.uniform(0.7, 1.0),
        "eyeliner": rng.uniform(0.7, 1.0) if female and rng.random() < 0.85 else 0.0,
    }


def _hair(a: Attributes, rng: np.random.Generator) -> dict[str, float]:
    volume = {"bald": 0.0, "short": rng.uniform(0.006, 0.022), "medium": rng.uniform(0.012, 0.03),
              "long": rng.uniform(0.012, 0.035)}[a.hair_length]  # fmt: skip
    fall = {"bald": 0.1, "short": 0.1, "medium": rng.uniform(0.2, 0.26), "long": rng.uniform(0.36, 0.55)}[
        a.hair_length
    ]
    return {
        "hair_style": _HAIR_STYLE[a.hair_length],
        "hair_vol": volume,
        "hair_len": fall,
        "bangs": float(a.bangs),
        "bangs_side": rng.uniform(-0.02, 0.02),
        "wavy": rng.uniform(0.8, 1.2) if a.hair_texture == "wavy" else 0.0,
        "recede": rng.uniform(0.6, 1.0) if a.receding_hairline else 0.0,
    }


def _accessories(a: Attributes, rng: np.random.Generator) -> dict[str, float]:
    return {
        "glasses": float(a.eyewear != "none"),
        "sunglasses": float(a.eyewear == "sunglasses"),
        "glasses_h": rng.uniform(0.0, 1.0),
        "beard": float(a.beard),
        "beard_thick": rng.uniform(0.006, 0.016),
        "mustache": float(a.mustache),
        "earrings": float(a.earrings),
        "necklace": float(a.necklace),
        "hat": float(a.hat),
    }


def _colours(a: Attributes, rng: np.random.Generator) -> dict[str, np.ndarray]:
    skin = _jitter(rng, SKIN_RGB[a.skin_tone], 0.04)
    hair = _jitter(rng, HAIR_RGB[a.hair_color], 0.08)
    if a.hair_color in ("blue", "pink", "purple", "green") or a.hair_length == "bald":
        brow = np.asarray(HAIR_RGB["dark brown"]) * (0.6 if a.skin_tone in ("brown", "dark") else 1.0)
    else:
        brow = hair * (0.7 if a.hair_color in ("blond", "white") else 0.9)
    lip = np.asarray(LIPSTICK_RGB) if a.lipstick else skin * np.array([0.9, 0.68, 0.66])
    dark_frame = a.eyewear == "sunglasses" or rng.random() < 0.6
    return {
        "skin": skin,
        "hair": hair,
        "brow": brow,
        "iris": _jitter(rng, EYE_RGB[a.eye_color], 0.04),
        "lip": lip,
        "cloth": np.asarray(CLOTH_RGB[rng.integers(len(CLOTH_RGB))]),
        "frame": np.array([0.05, 0.05, 0.06]) if dark_frame else np.array([0.55, 0.35, 0.15]),
        "metal": np.array([0.95, 0.8, 0.35]) if rng.random() < 0.6 else np.array([0.85, 0.85, 0.9]),
        "hat_col": np.asarray(CLOTH_RGB[rng.integers(len(CLOTH_RGB))]),
        "bg_top": rng.uniform(0.45, 0.95, 3),
        "bg_bottom": rng.uniform(0.3, 0.9, 3),
    }


def sample_head_params(attributes: Attributes, rng: np.random.Generator) -> np.ndarray:
    """A (P,) float32 parameter row (order PARAM_NAMES) for a person with these attributes."""
    values: dict[str, float] = {
        **_shape(attributes, rng),
        **_hair(attributes, rng),
        **_accessories(attributes, rng),
        "light_x": rng.uniform(-0.6, 0.6),
        "light_y": rng.uniform(0.2, 0.8),
        "light_z": 1.0,
        "ambient": rng.uniform(0.3, 0.45),
    }
    for name, rgb in _colours(attributes, rng).items():
        values.update({f"{name}_{k}": float(v) for k, v in zip("rgb", rgb, strict=True)})
    return np.array([values[name] for name in PARAM_NAMES], dtype=np.float32)

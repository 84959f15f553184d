"""The attribute vocabulary of the synthetic world and the sampler that draws one person from it.

Attributes are what captions talk about; every value here has words in `captions.py` and a look in
`head_sampler.py`. Values are plain strings and booleans so a record's attribute dictionary is readable JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pipelines.errors import InvalidInputError

GENDERS = ("female", "male")
AGES = ("young", "middle-aged", "old")
FACE_SHAPES = ("oval", "round", "square", "heart-shaped", "long")
SKIN_TONES = ("pale", "fair", "light brown", "olive", "brown", "dark")
NATURAL_HAIR = ("black", "dark brown", "brown", "blond", "red", "auburn")
AGED_HAIR = ("gray", "white")
DYED_HAIR = ("blue", "pink", "purple", "green")
HAIR_COLORS = NATURAL_HAIR + AGED_HAIR + DYED_HAIR
HAIR_LENGTHS = ("bald", "short", "medium", "long")
HAIR_TEXTURES = ("straight", "wavy")
EYE_COLORS = ("brown", "dark brown", "blue", "green", "gray", "hazel")
EYEBROWS = ("thin", "arched", "thick", "bushy")
NOSES = ("small", "straight", "big")
EYEWEAR = ("none", "eyeglasses", "sunglasses")
BOOLEAN = (False, True)


@dataclass(frozen=True)
class Attributes:
    """One person of the synthetic world (the ground truth that every caption describes)."""

    gender: str
    """One of GENDERS."""
    age: str
    """One of AGES; old faces get wrinkles, jowls and mostly gray or white hair."""
    face_shape: str
    """One of FACE_SHAPES (jaw, cheek, chin and face-length archetype)."""
    skin_tone: str
    """One of SKIN_TONES."""
    hair_color: str
    """One of HAIR_COLORS (the colour of the head hair, and of beard and brows unless dyed)."""
    hair_length: str
    """One of HAIR_LENGTHS; "bald" means no head hair."""
    hair_texture: str
    """One of HAIR_TEXTURES ("straight" for bald heads)."""
    bangs: bool
    """A fringe over the forehead (never on bald heads or with a receding hairline)."""
    receding_hairline: bool
    """Temples cleared back (only some middle-aged and old men with hair)."""
    eye_color: str
    """One of EYE_COLORS (iris colour; 1-2 px at 64 px, so render 128 px or supersample to teach it)."""
    eyebrows: str
    """One of EYEBROWS."""
    nose: str
    """One of NOSES (size of the nose)."""
    smiling: bool
    """Mouth corners raised."""
    mouth_open: bool
    """Lips parted showing teeth (only when smiling)."""
    lipstick: bool
    """Red lips."""
    eyewear: str
    """One of EYEWEAR."""
    beard: bool
    """A full beard along the jaw and chin (men only)."""
    mustache: bool
    """A mustache above the upper lip (men only)."""
    earrings: bool
    """Metal studs on the ear lobes."""
    necklace: bool
    """A thin metal chain around the neck."""
    hat: bool
    """A knitted beanie covering the top of the head."""

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attributes:
        """Inverse of `to_dict` (unknown keys are an error)."""
        return cls(**data)


ATTRIBUTE_VALUES: dict[str, tuple[Any, ...]] = {
    "gender": GENDERS,
    "age": AGES,
    "face_shape": FACE_SHAPES,
    "skin_tone": SKIN_TONES,
    "hair_color": HAIR_COLORS,
    "hair_length": HAIR_LENGTHS,
    "hair_texture": HAIR_TEXTURES,
    "bangs": BOOLEAN,
    "receding_hairline": BOOLEAN,
    "eye_color": EYE_COLORS,
    "eyebrows": EYEBROWS,
    "nose": NOSES,
    "smiling": BOOLEAN,
    "mouth_open": BOOLEAN,
    "lipstick": BOOLEAN,
    "eyewear": EYEWEAR,
    "beard": BOOLEAN,
    "mustache": BOOLEAN,
    "earrings": BOOLEAN,
    "necklace": BOOLEAN,
    "hat": BOOLEAN,
}
"""Every attribute and its possible values (the domain `--holdout` is checked against)."""


def _pick(rng: np.random.Generator, values: tuple[str, ...], weights: tuple[float, ...] | None = None) -> str:
    """One value drawn from `values` (weights need not sum to 1)."""
    p = None if weights is None else np.asarray(weights, dtype=np.float64) / sum(weights)
    return str(values[int(rng.choice(len(values), p=p))])


def _hair_length(rng: np.random.Generator, female: bool, age: str) -> str:
    if female:
        return _pick(rng, HAIR_LENGTHS, (0.0, 0.25, 0.35, 0.4))
    bald = {"young": 0.08, "middle-aged": 0.18, "old": 0.35}[age]
    return _pick(rng, HAIR_LENGTHS, (bald, 0.7, 0.15, 0.07))


def _hair_color(rng: np.random.Generator, age: str) -> str:
    gray = {"young": 0.0, "middle-aged": 0.2, "old": 0.8}[age]
    if rng.random() < gray:
        return _pick(rng, AGED_HAIR)
    if rng.random() < 0.14:
        return _pick(rng, DYED_HAIR)
    return _pick(rng, NATURAL_HAIR, (0.24, 0.24, 0.2, 0.16, 0.08, 0.08))


def sample_attributes(rng: np.random.Generator) -> Attributes:
    """Draw one person. Dependent attributes respect the world's rules (no bearded women, no bald fringes)."""
    gender = _pick(rng, GENDERS)
    female = gender == "female"
    age = _pick(rng, AGES, (0.5, 0.32, 0.18))
    shape_weights = (0.34, 0.2, 0.1, 0.24, 0.12) if female else (0.24, 0.16, 0.36, 0.08, 0.16)
    hair_length = _hair_length(rng, female, age)
    has_hair = hair_length != "bald"
    wavy_chance = 0.4 if hair_length in ("medium", "long") else 0.2
    smiling = bool(rng.random() < 0.5)
    beard = (not female) and bool(rng.random() < {"young": 0.25, "middle-aged": 0.4, "old": 0.4}[age])
    receding = (not female) and has_hair and age != "young" and bool(rng.random() < 0.4)
    return Attributes(
        gender=gender,
        age=age,
        face_shape=_pick(rng, FACE_SHAPES, shape_weights),
        skin_tone=_pick(rng, SKIN_TONES),
        hair_color=_hair_color(rng, age),
        hair_length=hair_length,
        hair_texture="wavy" if has_hair and rng.random() < wavy_chance else "straight",
        bangs=has_hair and not receding and bool(rng.random() < (0.35 if female else 0.15)),
        receding_hairline=receding,
        eye_color=_pick(rng, EYE_COLORS, (0.3, 0.2, 0.18, 0.12, 0.08, 0.12)),
        eyebrows=_pick(rng, EYEBROWS, (0.35, 0.45, 0.15, 0.05) if female else (0.1, 0.1, 0.5, 0.3)),
        nose=_pick(rng, NOSES, (0.45, 0.45, 0.1) if female else (0.15, 0.5, 0.35)),
        smiling=smiling,
        mouth_open=smiling and bool(rng.random() < 0.55),
        lipstick=female and bool(rng.random() < 0.4),
        eyewear=_pick(rng, EYEWEAR, (0.7, 0.22, 0.08)),
        beard=beard,
        mustache=(not female) and (beard or bool(rng.random() < 0.12)),
        earrings=bool(rng.random() < (0.4 if female else 0.06)),
        necklace=bool(rng.random() < (0.25 if female else 0.08)),
        hat=bool(rng.random() < 0.07),
    )


Holdout = dict[str, frozenset[Any]]
"""Attribute name -> values kept out of the training split."""


def _parse_value(name: str, text: str) -> Any:
    domain = ATTRIBUTE_VALUES[name]
    if domain == BOOLEAN:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InvalidInputError(f"--holdout {name}={text}: expected true or false")
    value = text.strip().replace("_", " ")  # "dark_brown" spares the shell quotes
    if value not in domain:
        raise InvalidInputError(f"--holdout {name}={text}: unknown value (choose from {', '.join(domain)})")
    return value


def parse_holdout(specs: list[str] | tuple[str, ...]) -> Holdout:
    """Parse `--holdout` items such as "hair_color=blue,green" or "eyewear=sunglasses" into a Holdout."""
    holdout: dict[str, set[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise InvalidInputError(f"--holdout {spec!r}: expected ATTRIBUTE=VALUE[,VALUE...]")
        if name not in ATTRIBUTE_VALUES:
            raise InvalidInputError(
                f"--holdout {spec!r}: unknown attribute {name!r} (choose from {', '.join(ATTRIBUTE_VALUES)})"
            )
        holdout.setdefault(name, set()).update(_parse_value(name, v) for v in values.split(","))
    return {name: frozenset(values) for name, values in holdout.items()}


def is_held_out(attributes: Attributes, holdout: Holdout) -> bool:
    """True when any attribute of the person takes a held-out value."""
    return any(getattr(attributes, name) in values for name, values in holdout.items())

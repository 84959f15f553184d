"""Attribute-swap hard negatives for contrastive training on synthetic captions.

A caption's hard negative is the same caption with one attribute changed ("short ... hair" -> "long ...
hair", "eyeglasses" -> "no glasses", "woman" -> "man"). In a batch of 128 people, hair, skin and gender
already tell most pairs apart, so plain InfoNCE has little reason to encode glasses or beards; a negative
that differs from the positive only there does (the NegCLIP recipe: Yuksekgonul et al., ICLR 2023).

Swapped phrases are rebuilt with the caption generator's own `part_phrases` on changed attributes, so a
negative is worded exactly like a real caption of a person who has the other value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import torch

from pipelines.data.synthetic.attributes import (
    EYEWEAR,
    HAIR_COLORS,
    HAIR_LENGTHS,
    SKIN_TONES,
    Attributes,
)
from pipelines.data.synthetic.captions import beard_predicate, part_phrases

_GENDER_WORDS = {"woman": "man", "girl": "guy", "lady": "gentleman", "She": "He"}
_GENDER_WORDS |= {male: female for female, male in _GENDER_WORDS.items()}
_GENDER_PATTERN = re.compile(r"\b(" + "|".join(_GENDER_WORDS) + r")\b")
_FACIAL_HAIR = ((False, False), (False, True), (True, False), (True, True))
"""(beard, mustache) combinations."""

Swap = Callable[[Attributes, str, dict[str, str], torch.Generator], str | None]
"""(person, caption, the caption's {part: phrase}, generator) -> the changed caption, or None when the
caption does not mention the attribute."""


def _pick(options: list[Any], generator: torch.Generator) -> Any:
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def _phrase_swap(
    part: str,
    changes: Callable[[Attributes], list[dict[str, Any]]],
    wording: Callable[[str], str] = lambda phrase: phrase,
) -> Swap:
    """A swap that rewrites one part phrase as it reads for the same person with other attribute values
    (`wording` adds what the caption states with the phrase, e.g. its verb)."""

    def swap(
        person: Attributes, caption: str, parts: dict[str, str], generator: torch.Generator
    ) -> str | None:
        options = changes(person)
        if part not in parts or not options:
            return None
        other = dataclasses.replace(person, **_pick(options, generator))
        return caption.replace(wording(parts[part]), wording(part_phrases(other)[part]))

    return swap


def _others(attribute: str, values: tuple[Any, ...]) -> Callable[[Attributes], list[dict[str, Any]]]:
    return lambda person: [{attribute: v} for v in values if v != getattr(person, attribute)]


def _hair_colors(person: Attributes) -> list[dict[str, Any]]:
    return [] if person.hair_length == "bald" else _others("hair_color", HAIR_COLORS)(person)


def _hair_lengths(person: Attributes) -> list[dict[str, Any]]:
    # a bald head has no bangs or hairline to keep; growing hair on it keeps the rest
    return [
        {"hair_length": v, "bangs": False, "receding_hairline": False} if v == "bald" else {"hair_length": v}
        for v in HAIR_LENGTHS
        if v != person.hair_length
    ]


def _facial_hair(person: Attributes) -> list[dict[str, Any]]:
    current = (person.beard, person.mustache)
    return [{"beard": b, "mustache": m} for b, m in _FACIAL_HAIR if (b, m) != current]


def _swap_gender(
    person: Attributes, caption: str, parts: dict[str, str], generator: torch.Generator
) -> str | None:
    changed = _GENDER_PATTERN.sub(lambda match: _GENDER_WORDS[match.group(1)], caption)
    return changed if changed != caption else None


SWAPS: dict[str, Swap] = {
    "gender": _swap_gender,
    "hair_color": _phrase_swap("hair", _hair_colors),
    "hair_length": _phrase_swap("hair", _hair_lengths),
    "skin_tone": _phrase_swap("skin", _others("skin_tone", SKIN_TONES)),
    "eyewear": _phrase_swap("eyeglasses", _others("eyewear", EYEWEAR)),
    "beard": _phrase_swap("beard", _facial_hair, beard_predicate),
    "smiling": _phrase_swap("mouth", lambda p: [{"smiling": not p.smiling, "mouth_open": False}]),
}
"""The attribute families that are swapped: those visible at 64 px (eye colour is not; the smile only
partly) of the zero-shot test."""


def hard_negatives(
    attributes: dict[str, Any], caption: str, parts: dict[str, str], generator: torch.Generator, limit: int
) -> list[str]:
    """Up to `limit` versions of the caption, each with one attribute it mentions changed, from different
    families drawn at random among those it mentions (none when it mentions none of `SWAPS`).

    Args:
        attributes: the person's record attributes (`Attributes.to_dict()` form).
        caption: one of the person's texts; parts: the {part: phrase} that text mentions.
        generator: the draw's CPU generator.
    """
    person = Attributes.from_dict(attributes)
    candidates = [
        changed
        for swap in SWAPS.values()
        if (changed := swap(person, caption, parts, generator)) is not None and changed != caption
    ]
    order = torch.randperm(len(candidates), generator=generator)[:limit]
    return [candidates[int(k)] for k in order]

"""Attribute families scored by attribute accuracy, their ground truth, and what a caption states.

A family is one attribute of the synthetic world (`pipelines.data.synthetic.attributes`) that a reader can
see at the data set's resolution. A render is scored on a family only when its caption states it: the
caption's `parts` say which face parts it describes (e.g. "hair" -> hair colour and length), and gender is
always stated (every caption names the person or uses a pronoun).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pipelines.data.synthetic.attributes import ATTRIBUTE_VALUES
from pipelines.errors import InvalidInputError

IGNORE = -1
"""Label of a family that does not apply (hair colour of a bald head)."""


@dataclass(frozen=True)
class Family:
    """One scored attribute."""

    name: str
    """The attribute's name in a record's `attributes`."""
    stated: Callable[[str, dict[str, str]], bool]
    """(caption, its parts) -> whether the caption states this attribute."""
    applies: Callable[[dict[str, Any]], bool] = lambda attributes: True
    """Whether the attribute is defined for this person (no hair colour on a bald head)."""

    @property
    def values(self) -> tuple[Any, ...]:
        return ATTRIBUTE_VALUES[self.name]


def _part(name: str) -> Callable[[str, dict[str, str]], bool]:
    return lambda caption, parts: name in parts


def _has_hair(attributes: dict[str, Any]) -> bool:
    return attributes["hair_length"] != "bald"


def _states_smile(caption: str, parts: dict[str, str]) -> bool:
    lowered = caption.lower()
    return "mouth" in parts or "smiling" in lowered or "serious" in lowered


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("gender", lambda caption, parts: True),
        Family(
            "hair_color", lambda caption, parts: "hair" in parts and "bald" not in parts["hair"], _has_hair
        ),
        Family("hair_length", _part("hair")),
        Family("skin_tone", _part("skin")),
        Family("eyewear", _part("eyeglasses")),
        Family("beard", _part("beard")),
        Family("hat", _part("accessories")),
        Family("smiling", _states_smile),
        Family("eye_color", _part("eyes")),
    )
}
"""Every family a reader can be trained on."""
DEFAULT_FAMILIES = ("gender", "hair_color", "hair_length", "skin_tone", "eyewear", "beard", "hat", "smiling")
"""Families visible at 64 px (eye colour needs 128 px or supersampling: DESIGN §6)."""


def check_families(names: Sequence[str]) -> tuple[str, ...]:
    """Validate family names (InvalidInputError names the unknown one)."""
    for name in names:
        if name not in FAMILIES:
            raise InvalidInputError(f"unknown attribute family {name!r} (choose from {', '.join(FAMILIES)})")
    return tuple(names)


def truth_labels(attributes: Sequence[dict[str, Any]], families: Sequence[str]) -> dict[str, Tensor]:
    """Ground-truth value indices: family -> (N,) long, IGNORE where the family does not apply."""
    labels = {}
    for name in families:
        family = FAMILIES[name]
        labels[name] = torch.tensor(
            [family.values.index(a[name]) if family.applies(a) else IGNORE for a in attributes],
            dtype=torch.long,
        )
    return labels


def stated_mask(
    captions: Sequence[str],
    parts: Sequence[dict[str, str]],
    attributes: Sequence[dict[str, Any]],
    families: Sequence[str],
) -> dict[str, Tensor]:
    """family -> (N,) bool: the caption states the family and it applies to the person it describes."""
    return {
        name: torch.tensor(
            [
                FAMILIES[name].stated(c, p) and FAMILIES[name].applies(a)
                for c, p, a in zip(captions, parts, attributes, strict=True)
            ],
            dtype=torch.bool,
        )
        for name in families
    }


def accuracy(
    predictions: dict[str, Tensor], labels: dict[str, Tensor], mask: dict[str, Tensor] | None = None
) -> dict[str, Any]:
    """Per-family and overall accuracy of predicted value indices against labels.

    Args:
        predictions, labels: family -> (N,) long. mask: family -> (N,) bool of the pairs to score (default:
            every label that is not IGNORE).

    Returns:
        {"overall": correct / scored over all families (None if nothing was scored), "families":
        {family: accuracy or None}, "scored": {family: count}, "confusion": {family: {true value:
        {predicted value: count}}} over the scored pairs}.
    """
    families, scored, confusion, correct_total, count_total = {}, {}, {}, 0, 0
    for name, predicted in predictions.items():
        keep = labels[name] != IGNORE
        if mask is not None:
            keep &= mask[name]
        count = int(keep.sum())
        correct = int((predicted[keep] == labels[name][keep]).sum())
        families[name] = round(correct / count, 6) if count else None
        scored[name] = count
        confusion[name] = _confusion(FAMILIES[name].values, labels[name][keep], predicted[keep])
        correct_total += correct
        count_total += count
    overall = round(correct_total / count_total, 6) if count_total else None
    return {"overall": overall, "families": families, "scored": scored, "confusion": confusion}


def _confusion(values: tuple[Any, ...], truth: Tensor, predicted: Tensor) -> dict[str, dict[str, int]]:
    """{true value: {predicted value: count}} of (N,) value indices (only the pairs that occur)."""
    table: dict[str, dict[str, int]] = {}
    for true_index, predicted_index in zip(truth.tolist(), predicted.tolist(), strict=True):
        row = table.setdefault(str(values[true_index]), {})
        row[str(values[predicted_index])] = row.get(str(values[predicted_index]), 0) + 1
    return table

"""Short captions for contrastive training: one attribute of a person in a prompt-sized sentence.

The dataset's captions are long (three or four parts and a second sentence), but people prompt with short
phrases ("a woman with red hair"). A text tower that has only seen long captions maps short prompts poorly,
so the CLIP trainer mixes in short captions built from the person's true attributes, worded with the
caption generator's own part phrases:

    "A young woman with red hair."          "An old man who has a full beard."
    "A lady wearing sunglasses."            "A guy with olive skin."

The subject is always a noun with more than the bare gender ("young woman", "lady", "elderly man"), never
"person", "man" or "woman" alone, so no prompt of the zero-shot evaluation (`evaluate.zero_shot_families`)
is ever a training text: the evaluation measures how the model generalises to new wordings.
"""

from __future__ import annotations

from typing import Any

from pipelines.data.synthetic.attributes import Attributes
from pipelines.data.synthetic.captions import HAIR_LENGTH_WORDS, NOUNS, article, beard_predicate, part_phrases

SUBJECTS = {
    key: tuple(noun for noun in nouns if noun not in ("man", "woman")) for key, nouns in NOUNS.items()
}
"""(gender, age) -> the nouns short captions name the person with."""


def _statements(person: Attributes, phrases: dict[str, str]) -> list[tuple[str, str, str]]:
    """(part, the words after the subject, the part phrase they contain) for every short statement."""
    hair = [phrases["hair"]]
    if person.hair_length != "bald":
        hair += [f"{person.hair_color} hair", f"{HAIR_LENGTH_WORDS[person.hair_length]} hair"]
    statements = [("hair", f"with {phrase}", phrase) for phrase in hair]
    statements += [(part, f"with {phrases[part]}", phrases[part]) for part in ("skin", "mouth")]
    glasses = phrases["eyeglasses"]
    statements.append(
        ("eyeglasses", f"{'with' if person.eyewear == 'none' else 'wearing'} {glasses}", glasses)
    )
    if "beard" in phrases:
        statements.append(("beard", f"who {beard_predicate(phrases['beard'])}", phrases["beard"]))
    return statements


def short_captions(attributes: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every short true caption of the person, each with the {part: phrase} it mentions (what `negatives`
    swaps), in a fixed order.

    Args:
        attributes: the person's record attributes (`Attributes.to_dict()` form).
    """
    person = Attributes.from_dict(attributes)
    statements = _statements(person, part_phrases(person))
    return [
        (f"{article(noun).capitalize()} {noun} {words}.", {part: phrase})
        for noun in SUBJECTS[(person.gender, person.age)]
        for part, words, phrase in statements
    ]

"""Captions and part phrases in the style of Multi-Modal-CelebA-HQ, generated from the true attributes.

Each person gets one phrase per face part (`part_phrases`) and 10 captions, each from a different template
(`captions`). Templates insert the phrases verbatim, and every caption records which parts it mentions,
so `parts[i][part]` is always a substring of `captions[i]`. Absences are stated too ("no glasses",
"clean-shaven", "no hat or jewelry") so a contrastive text encoder sees rare attributes both ways. Every part
is used by at least three templates, so any 10 of the 12 templates mention every part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipelines.data.synthetic.attributes import Attributes

CAPTIONS_PER_IMAGE = 10
PARTS = ("hair", "eyes", "brows", "nose", "mouth", "skin", "face", "eyeglasses", "beard", "accessories")
"""Part names used in `parts` dictionaries (`beard` only for men)."""

HAIR_LENGTH_WORDS = {"short": "short", "medium": "shoulder-length", "long": "long"}
NOUNS = {
    ("female", "young"): ("woman", "young woman", "girl", "lady"),
    ("male", "young"): ("man", "young man", "guy", "gentleman"),
    ("female", "middle-aged"): ("middle-aged woman",),
    ("male", "middle-aged"): ("middle-aged man",),
    ("female", "old"): ("old woman", "elderly woman"),
    ("male", "old"): ("old man", "elderly man"),
}
"""Ways to name a person by (gender, age)."""
_AGED_NOUN = {key: next(n for n in nouns if " " in n) for key, nouns in NOUNS.items()}
"""The noun that states the age outright."""


def article(word: str) -> str:
    """'a' or 'an' for the following word ("an old man", "a young woman")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def _join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def part_phrases(a: Attributes) -> dict[str, str]:
    """The phrase for each face part of this person (no "beard" entry for women)."""
    if a.hair_length == "bald":
        hair = "a bald head"
    else:
        hair = f"{HAIR_LENGTH_WORDS[a.hair_length]} {a.hair_texture} {a.hair_color} hair"
        if a.bangs:
            hair += " with bangs"
        if a.receding_hairline:
            hair += " with a receding hairline"
    if a.smiling:
        mouth = "a wide smile" if a.mouth_open else "a closed-mouth smile"
    else:
        mouth = "a neutral mouth"
    if a.lipstick:
        mouth += " with red lipstick"
    accessories = [
        name
        for name, worn in (("earrings", a.earrings), ("a necklace", a.necklace), ("a hat", a.hat))
        if worn
    ]
    phrases = {
        "hair": hair,
        "eyes": f"{a.eye_color} eyes",
        "brows": f"{a.eyebrows} eyebrows",
        "nose": f"a {a.nose} nose",
        "mouth": mouth,
        "skin": f"{a.skin_tone} skin",
        "face": _with_article(f"{a.face_shape} face"),
        "eyeglasses": {"none": "no glasses", "eyeglasses": "eyeglasses", "sunglasses": "sunglasses"}[
            a.eyewear
        ],
        "accessories": _join(accessories) if accessories else "no hat or jewelry",
    }
    if a.gender == "male":
        if a.beard:
            phrases["beard"] = "a beard and a mustache" if a.mustache else "a full beard"
        else:
            phrases["beard"] = "a mustache" if a.mustache else "clean-shaven"
    return phrases


def beard_predicate(phrase: str) -> str:
    """The verb and the beard phrase as a caption states them: "is clean-shaven", "has a full beard"."""
    return f"{'is' if phrase == 'clean-shaven' else 'has'} {phrase}"


@dataclass(frozen=True)
class _Person:
    """What templates need: the phrases, pronouns and a way to name the person."""

    a: Attributes
    p: dict[str, str]
    rng: np.random.Generator

    @property
    def she(self) -> str:
        return "She" if self.a.gender == "female" else "He"

    def noun(self, explicit_age: bool = False) -> str:
        """A noun phrase for the person, e.g. "young woman", "elderly man", "guy"."""
        key = (self.a.gender, self.a.age)
        options = (_AGED_NOUN[key],) if explicit_age else NOUNS[key]
        return options[int(self.rng.integers(len(options)))]

    def a_noun(self, explicit_age: bool = False) -> str:
        return _with_article(self.noun(explicit_age))

    def glasses(self) -> tuple[str, list[str]]:
        verb = "wears" if self.rng.random() < 0.5 else "is wearing"
        return f"{self.she} {'wears' if self.a.eyewear == 'none' else verb} {self.p['eyeglasses']}.", [
            "eyeglasses"
        ]

    def beard(self) -> tuple[str, list[str]]:
        """Men only: "He is clean-shaven." / "He has a beard and a mustache."."""
        if "beard" not in self.p:
            return "", []
        return f"{self.she} {beard_predicate(self.p['beard'])}.", ["beard"]

    def accessories(self) -> tuple[str, list[str]]:
        verb = "wears" if self.p["accessories"].startswith("no ") else "is wearing"
        return f"{self.she} {verb} {self.p['accessories']}.", ["accessories"]

    def smile(self) -> str:
        return f"{self.she} is smiling." if self.a.smiling else f"{self.she} is not smiling."


Template = Callable[[_Person], tuple[str, list[str]]]


def _sentences(*items: str | tuple[str, list[str]], parts: list[str]) -> tuple[str, list[str]]:
    """Join sentences (plain, or with the parts they mention) and collect the parts."""
    texts, used = [], list(parts)
    for item in items:
        text, more = (item, []) if isinstance(item, str) else item
        texts.append(text)
        used += more
    return " ".join(t for t in texts if t), used


def _t1(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    return _sentences(
        f"The {s.noun()} has {p['hair']}, {p['eyes']} and {p['brows']}.",
        s.glasses(),
        parts=["hair", "eyes", "brows"],
    )


def _t2(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"{s.a_noun().capitalize()} with {p['skin']}, {p['hair']} and {p['mouth']}."
    return _sentences(head, s.beard(), parts=["skin", "hair", "mouth"])


def _t3(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    return _sentences(
        f"This {s.noun()} has {p['face']}, {p['nose']} and {p['eyes']}.",
        s.smile(),
        parts=["face", "nose", "eyes"],
    )


def _t4(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    return _sentences(
        f"{s.she} has {p['hair']}, {p['eyes']} and {p['brows']}.",
        s.accessories(),
        parts=["hair", "eyes", "brows"],
    )


def _t5(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"The person has {p['hair']}, {p['eyes']}, {p['nose']} and {p['mouth']}."
    return _sentences(head, s.glasses(), parts=["hair", "eyes", "nose", "mouth"])


def _t6(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"A portrait of {s.a_noun(explicit_age=True)} with {p['eyes']}, {p['skin']} and {p['hair']}."
    return _sentences(head, s.accessories(), parts=["eyes", "skin", "hair"])


def _t7(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"{s.she} is {s.a_noun()} with {p['brows']}, {p['nose']} and {p['mouth']}."
    return _sentences(head, s.beard() if "beard" in p else s.glasses(), parts=["brows", "nose", "mouth"])


def _t8(s: _Person) -> tuple[str, list[str]]:
    mood = "smiling" if s.a.smiling else "serious"
    return _sentences(f"This {s.noun()} is {mood} and has {s.p['hair']}.", s.glasses(), parts=["hair"])


def _t9(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"The {s.noun()} in the photo has {p['skin']} and {p['face']}."
    return _sentences(head, s.beard(), s.smile(), parts=["skin", "face"])


def _t10(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    return _sentences(
        f"{s.she} has {p['eyes']}, {p['brows']} and {p['face']}.",
        s.glasses(),
        parts=["eyes", "brows", "face"],
    )


def _t11(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"A close-up photo of {s.a_noun()} who has {p['hair']} and {p['mouth']}."
    return _sentences(head, s.accessories(), parts=["hair", "mouth"])


def _t12(s: _Person) -> tuple[str, list[str]]:
    p = s.p
    head = f"{s.a_noun().capitalize()} with {p['nose']}, {p['skin']} and {p['eyes']}."
    return _sentences(head, s.beard(), s.accessories(), parts=["nose", "skin", "eyes"])


TEMPLATES: tuple[Template, ...] = (_t1, _t2, _t3, _t4, _t5, _t6, _t7, _t8, _t9, _t10, _t11, _t12)


def captions(a: Attributes, rng: np.random.Generator) -> tuple[list[str], list[dict[str, str]]]:
    """10 captions of this person from different templates, and the {part: phrase} each one mentions."""
    person = _Person(a, part_phrases(a), rng)
    texts, parts = [], []
    for index in rng.permutation(len(TEMPLATES))[:CAPTIONS_PER_IMAGE]:
        text, used = TEMPLATES[int(index)](person)
        texts.append(text)
        parts.append({name: person.p[name] for name in dict.fromkeys(used)})
    return texts, parts

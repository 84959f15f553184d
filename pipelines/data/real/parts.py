"""Captions -> part phrases: a rule-based extractor for Multi-Modal-CelebA-HQ-style captions.

"She has wavy blond hair, arched eyebrows and a pointy nose. She is wearing lipstick." gives
{"hair": "wavy blond hair", "brows": "arched eyebrows", "nose": "a pointy nose", "makeup": "lipstick"}.

A caption is cut into sentences, each sentence into items at commas and "and" (not inside "salt and
pepper" style colour pairs: an item with no keyword that is a bare modifier is glued to the next one), and
the subject and verb are stripped from the front of an item ("She has", "The man is wearing", "A guy
with"). An item names the part of its last keyword (English noun phrases end in their head: "bags under
eyes" is about the eyes). Items about the same part in one caption are joined with " and ". Words that name
no part (attractive, young, male) are dropped. The keywords cover CelebA's 40 attributes, which
Multi-Modal-CelebA-HQ's captions verbalise, plus common free-text words.
"""

from __future__ import annotations

import re

PART_KEYWORDS: dict[str, tuple[str, ...]] = {
    "hair": (
        "hair", "hairs", "haired", "bald", "bangs", "fringe", "hairline", "ponytail", "braid", "braids",
        "curls", "afro", "bun", "hairstyle",
    ),
    "eyes": ("eye", "eyes", "eyelashes", "eyelids"),
    "brows": ("eyebrow", "eyebrows", "brow", "brows", "unibrow"),
    "nose": ("nose", "nostrils"),
    "mouth": ("mouth", "lips", "lip", "smile", "smiling", "smiles", "grin", "grinning", "teeth", "laughing"),
    "skin": ("skin", "complexion", "cheeks", "freckles", "wrinkles", "tan", "tanned"),
    "face": ("face", "cheekbones", "chin", "chubby", "jaw", "jawline", "forehead"),
    "eyeglasses": ("eyeglasses", "glasses", "sunglasses", "spectacles", "goggles"),
    "beard": (
        "beard", "bearded", "mustache", "moustache", "goatee", "stubble", "sideburns", "sideburn",
        "clean-shaven", "shaven", "shaved", "shadow", "whiskers",
    ),
    "makeup": ("makeup", "make-up", "lipstick", "eyeliner", "mascara", "eyeshadow", "blush", "rouge"),
    "accessories": (
        "hat", "cap", "beanie", "earring", "earrings", "necklace", "necktie", "tie", "jewelry", "jewellery",
        "scarf", "headband", "piercing",
    ),
}  # fmt: skip
"""Words that name each part. Part names are keys of pipelines.core.parsing.PART_CLASSES ("makeup" too)."""

_KEYWORD_PART = {word: part for part, words in PART_KEYWORDS.items() for word in words}
_SUBJECT = (
    r"(?:(?:the|this|that|a|an)\s+)?(?:(?:young|old|elderly|middle-aged|attractive|smiling|chubby|"
    r"beautiful|handsome|pretty)\s+)*(?:man|woman|person|lady|girl|boy|guy|gentleman|female|male|"
    r"individual|face|portrait(?:\s+of\s+\S+(?:\s+\S+)?)?|she|he|they|it|her|his)"
)
_VERB = (
    r"(?:has\s+got|has|have|had|is\s+wearing|wears|wearing|wear|is\s+sporting|sports|shows|is\s+with|"
    r"is|are|with|and|got)"
)
_LEAD = re.compile(rf"^(?:{_SUBJECT}\s+)?(?:(?:also|slightly|a\s+bit)\s+)*(?:{_VERB}\s+)+", re.I)
_LEAD_SUBJECT_ONLY = re.compile(rf"^{_SUBJECT}\s*$", re.I)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n")
_ITEMS = re.compile(r",\s*(?:and\s+)?|\s+and\s+|\s+but\s+")
_WORD = re.compile(r"[a-z][a-z'\-]*")
_VERBLIKE_START = re.compile(rf"^(?:{_SUBJECT}\s+)?{_VERB}\b", re.I)


def _part_of(item: str) -> str | None:
    """The part named by the last keyword of an item, or None."""
    part = None
    for word in _WORD.findall(item.lower()):
        part = _KEYWORD_PART.get(word, part)
    return part


def _clean(item: str) -> str:
    """Strip the subject and verb from the front and punctuation from the end."""
    item = item.strip().strip(".!?;:").strip()
    stripped = _LEAD.sub("", item)
    return stripped.strip() if stripped.strip() else item


def _items(sentence: str) -> list[str]:
    """Split a sentence into items, gluing a bare modifier to the next item ("black and white hair")."""
    pieces = [p.strip() for p in _ITEMS.split(sentence) if p and p.strip()]
    items: list[str] = []
    for index, piece in enumerate(pieces):
        following = pieces[index + 1] if index + 1 < len(pieces) else None
        bare = _part_of(piece) is None and len(_clean(piece).split()) <= 2
        if items and items[-1].endswith(" and"):
            items[-1] = f"{items[-1]} {piece}"
        elif bare and following is not None and not _VERBLIKE_START.match(following):
            items.append(f"{piece} and")
        else:
            items.append(piece)
    return items


def caption_parts(caption: str) -> dict[str, str]:
    """The part phrases of one caption (part name -> phrase); parts it does not mention are absent."""
    found: dict[str, list[str]] = {}
    for sentence in _SENTENCES.split(caption.strip()):
        for item in _items(sentence):
            phrase = _clean(item)
            part = _part_of(phrase)
            if part is None or _LEAD_SUBJECT_ONLY.match(phrase):
                continue
            if phrase not in found.setdefault(part, []):
                found[part].append(phrase)
    return {part: " and ".join(phrases) for part, phrases in found.items()}


def captions_parts(captions: list[str]) -> list[dict[str, str]]:
    """`caption_parts` of each caption, in order."""
    return [caption_parts(caption) for caption in captions]

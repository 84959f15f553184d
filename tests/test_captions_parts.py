"""Captions -> part phrases on Multi-Modal-CelebA-HQ-style captions and on the synthetic world's captions."""

import pytest

from pipelines.core.parsing import PART_CLASSES
from pipelines.data.real.check import KNOWN_PARTS
from pipelines.data.real.parts import PART_KEYWORDS, caption_parts, captions_parts

REAL_STYLE = [
    (
        "She has wavy blond hair, arched eyebrows and a pointy nose. She is wearing lipstick.",
        {
            "hair": "wavy blond hair",
            "brows": "arched eyebrows",
            "nose": "a pointy nose",
            "makeup": "lipstick",
        },
    ),
    (
        "The man has bags under eyes and big lips. He has no beard.",
        {"eyes": "bags under eyes", "mouth": "big lips", "beard": "no beard"},
    ),
    (
        "This woman is wearing heavy makeup, earrings and lipstick. She is attractive and young.",
        {"makeup": "heavy makeup and lipstick", "accessories": "earrings"},
    ),
    (
        "He has black and white hair, a 5 o'clock shadow and a goatee.",
        {"hair": "black and white hair", "beard": "a 5 o'clock shadow and a goatee"},
    ),
    (
        "The person has high cheekbones, mouth slightly open, and rosy cheeks. She wears eyeglasses.",
        {
            "face": "high cheekbones",
            "mouth": "mouth slightly open",
            "skin": "rosy cheeks",
            "eyeglasses": "eyeglasses",
        },
    ),
    (
        "This man is young and has straight hair, bushy eyebrows and sideburns. He is wearing a necktie.",
        {
            "hair": "straight hair",
            "brows": "bushy eyebrows",
            "beard": "sideburns",
            "accessories": "a necktie",
        },
    ),
    (
        "The woman has pale skin, narrow eyes and a big nose, and is smiling.",
        {"skin": "pale skin", "eyes": "narrow eyes", "nose": "a big nose", "mouth": "smiling"},
    ),
    (
        "He is bald and has a double chin and a mustache.",
        {"hair": "bald", "face": "a double chin", "beard": "a mustache"},
    ),
    (
        "She is wearing a hat, a necklace and eyeliner.",
        {"accessories": "a hat and a necklace", "makeup": "eyeliner"},
    ),
    ("The attractive young woman is smiling. She has bangs.", {"mouth": "smiling", "hair": "bangs"}),
]


@pytest.mark.parametrize(("caption", "expected"), REAL_STYLE)
def test_real_style_captions_give_their_part_phrases(caption, expected):
    assert caption_parts(caption) == expected


def test_words_naming_no_part_give_nothing():
    assert caption_parts("She is attractive and young.") == {}
    assert caption_parts("") == {}


def test_every_part_name_is_a_parser_part_or_makeup():
    assert set(PART_KEYWORDS) <= set(PART_CLASSES) | {"makeup"}
    assert set(PART_KEYWORDS) <= KNOWN_PARTS


def test_synthetic_captions_recover_their_true_parts(tiny_synthetic):
    """The synthetic world's captions state each part phrase verbatim: the extractor finds the same parts
    and a phrase containing the true one for nearly all of them."""
    import json

    records = [json.loads(line) for line in open(tiny_synthetic / "records.jsonl", encoding="utf-8")]
    total = agree = 0
    for record in records:
        for truth, found in zip(record["parts"], captions_parts(record["captions"]), strict=True):
            for part, phrase in truth.items():
                total += 1
                agree += part in found and phrase in found[part]
    assert total > 100
    assert agree / total > 0.95

"""Captions and part phrases state exactly the sampled attributes, grammatically; holdout parsing."""

import re

import numpy as np
import pytest

from pipelines.data.synthetic.attributes import (
    ATTRIBUTE_VALUES,
    EYE_COLORS,
    HAIR_COLORS,
    Attributes,
    parse_holdout,
    sample_attributes,
)
from pipelines.data.synthetic.captions import CAPTIONS_PER_IMAGE, PARTS, captions
from pipelines.errors import InvalidInputError

SEEDS = range(300)
COLOURS = "|".join(sorted(set(HAIR_COLORS) | set(EYE_COLORS), key=len, reverse=True))


def read_hair(phrase: str) -> dict:
    """Reference reader: a hair phrase back to attribute values."""
    if phrase == "a bald head":
        return {"hair_length": "bald", "bangs": False, "receding_hairline": False}
    m = re.fullmatch(
        rf"(short|shoulder-length|long) (straight|wavy) ({COLOURS}) hair"
        r"( with bangs)?( with a receding hairline)?",
        phrase,
    )
    assert m, phrase
    length = {"short": "short", "shoulder-length": "medium", "long": "long"}[m[1]]
    return {
        "hair_length": length,
        "hair_texture": m[2],
        "hair_color": m[3],
        "bangs": bool(m[4]),
        "receding_hairline": bool(m[5]),
    }


def read_part(part: str, phrase: str) -> dict:
    """Reference reader: any part phrase back to the attribute values it states."""
    if part == "hair":
        return read_hair(phrase)
    patterns = {
        "eyes": (rf"({COLOURS}) eyes", lambda m: {"eye_color": m[1]}),
        "brows": (r"(\w+) eyebrows", lambda m: {"eyebrows": m[1]}),
        "nose": (r"a (\w+) nose", lambda m: {"nose": m[1]}),
        "skin": (r"(.+) skin", lambda m: {"skin_tone": m[1]}),
        "face": (r"an? (.+) face", lambda m: {"face_shape": m[1]}),
        "mouth": (
            r"a (wide smile|closed-mouth smile|neutral mouth)( with red lipstick)?",
            lambda m: {
                "smiling": m[1] != "neutral mouth",
                "mouth_open": m[1] == "wide smile",
                "lipstick": bool(m[2]),
            },
        ),
        "eyeglasses": (
            r"no glasses|eyeglasses|sunglasses",
            lambda m: {"eyewear": "none" if m[0] == "no glasses" else m[0]},
        ),
        "beard": (
            r"a beard and a mustache|a full beard|a mustache|clean-shaven",
            lambda m: {"beard": "beard" in m[0], "mustache": "mustache" in m[0]},
        ),
        "accessories": (
            r"no hat or jewelry|.+",
            lambda m: {
                k: w in m[0] and not m[0].startswith("no ")
                for k, w in (("earrings", "earrings"), ("necklace", "necklace"), ("hat", "hat"))
            },
        ),
    }
    pattern, read = patterns[part]
    m = re.fullmatch(pattern, phrase)
    assert m, (part, phrase)
    return read(m)


def contradictions(a: Attributes, text: str) -> list[str]:
    """Things a caption says that the attributes deny (reference scan of the raw text)."""
    bad = []
    for colour in re.findall(rf"({COLOURS}) hair", text):
        bad += [] if colour == a.hair_color else [f"hair {colour}"]
    for colour in re.findall(rf"({COLOURS}) eyes", text):
        bad += [] if colour == a.eye_color else [f"eyes {colour}"]
    female_words = re.findall(r"\b(She|Her|woman|girl|lady)\b", text)
    male_words = re.findall(r"\b(He|His|man|guy|gentleman)\b", text)
    bad += (
        ["gender"] if (female_words and a.gender == "male") or (male_words and a.gender == "female") else []
    )
    ages = {"old": r"\b(old|elderly)\b", "middle-aged": r"middle-aged", "young": r"\b(young|girl|guy)\b"}
    bad += [f"age {age}" for age, pattern in ages.items() if re.search(pattern, text) and a.age != age]
    eyewear = {"sunglasses": "sunglasses", "eyeglasses": "eyeglasses", "none": "no glasses"}
    bad += [f"eyewear {k}" for k, w in eyewear.items() if w in text and a.eyewear != k]
    bad += ["beard"] if "beard" in text and not a.beard else []
    bad += ["mustache"] if "mustache" in text and not a.mustache else []
    bad += ["shaven"] if "clean-shaven" in text and (a.beard or a.mustache) else []
    smiling = re.search(r"\bsmiling\b|smile", text) and not re.search(r"not smiling", text)
    bad += ["smile"] if smiling and not a.smiling else []
    bad += ["no smile"] if re.search(r"not smiling|serious|neutral mouth", text) and a.smiling else []
    for word, worn in (
        ("earrings", a.earrings),
        ("necklace", a.necklace),
        ("a hat", a.hat),
        ("lipstick", a.lipstick),
    ):
        bad += [word] if word in text and not worn else []
    bad += (
        ["no hat or jewelry"] if "no hat or jewelry" in text and (a.earrings or a.necklace or a.hat) else []
    )
    return bad


@pytest.mark.parametrize("seed", SEEDS)
def test_captions_and_parts_state_exactly_the_sampled_attributes(seed):
    rng = np.random.default_rng(seed)
    a = sample_attributes(rng)
    texts, parts = captions(a, rng)
    assert len(texts) == len(parts) == CAPTIONS_PER_IMAGE == len(set(texts))
    truth = a.to_dict()
    mentioned = set()
    for text, entry in zip(texts, parts, strict=True):
        assert not contradictions(a, text), (text, contradictions(a, text))
        for part, phrase in entry.items():
            assert phrase in text
            stated = read_part(part, phrase)
            assert stated == {k: truth[k] for k in stated}, (part, phrase)
            mentioned.add(part)
    expected = set(PARTS) - ({"beard"} if a.gender == "female" else set())
    assert mentioned == expected


@pytest.mark.parametrize("seed", range(100))
def test_captions_are_grammatical_sentences(seed):
    rng = np.random.default_rng(seed)
    a = sample_attributes(rng)
    for text in captions(a, rng)[0]:
        assert "  " not in text and " ." not in text and " ," not in text
        assert not re.search(r"\ba [aeiou]", text, re.IGNORECASE), text
        assert not re.search(r"\ban [^aeiou\s]", text, re.IGNORECASE), text
        for sentence in re.split(r"(?<=\.) ", text):
            assert sentence[0].isupper() and sentence.endswith("."), text


def test_an_old_man_takes_an():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        a = sample_attributes(rng)
        if a.age == "old" and a.gender == "male":
            break
    texts = captions(a, rng)[0]
    assert any("an old man" in t.lower() or "an elderly man" in t.lower() for t in texts)


def test_sampled_attributes_stay_in_their_domains_and_rules():
    rng = np.random.default_rng(1)
    for _ in range(500):
        a = sample_attributes(rng).to_dict()
        for name, value in a.items():
            assert value in ATTRIBUTE_VALUES[name], name
        assert not (a["gender"] == "female" and (a["beard"] or a["mustache"]))
        assert not (a["hair_length"] == "bald" and (a["bangs"] or a["hair_texture"] == "wavy"))
        assert not (a["mouth_open"] and not a["smiling"])
    assert set(ATTRIBUTE_VALUES) == set(a)


def test_holdout_parses_values_and_rejects_unknown_ones():
    holdout = parse_holdout(
        ["hair_color=blue,green", "eyewear=sunglasses", "hat=true", "hair_color=dark_brown"]
    )
    assert holdout == {
        "hair_color": frozenset({"blue", "green", "dark brown"}),
        "eyewear": frozenset({"sunglasses"}),
        "hat": frozenset({True}),
    }
    for bad, message in (
        ("hair_colour=blue", "unknown attribute 'hair_colour'"),
        ("hair_color=teal", "hair_color=teal: unknown value"),
        ("hat=maybe", "expected true or false"),
        ("hair_color", "expected ATTRIBUTE=VALUE"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            parse_holdout([bad])

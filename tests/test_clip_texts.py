"""The CLIP trainer's extra texts: attribute-swap hard negatives (each swap changes exactly its attribute,
worded like a real caption) and short one-attribute captions (true, and never an evaluation prompt)."""

import json

import numpy as np
import pytest
import torch

from pipelines.data.synthetic.attributes import Attributes, sample_attributes
from pipelines.data.synthetic.captions import captions, part_phrases
from pipelines.encoders_training.clip import ClipTrainConfig, TrueTexts, check_attributes
from pipelines.encoders_training.data import SplitData
from pipelines.encoders_training.evaluate import zero_shot_families
from pipelines.encoders_training.negatives import SWAPS, hard_negatives
from pipelines.encoders_training.short_captions import short_captions

PERSON = {
    "gender": "male", "age": "young", "face_shape": "oval", "skin_tone": "olive", "hair_color": "red",
    "hair_length": "short", "hair_texture": "wavy", "bangs": False, "receding_hairline": False,
    "eye_color": "blue", "eyebrows": "thick", "nose": "small", "smiling": True, "mouth_open": False,
    "lipstick": False, "eyewear": "eyeglasses", "beard": False, "mustache": False, "earrings": False,
    "necklace": False, "hat": False,
}  # fmt: skip


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _all_captions(person: dict) -> list[tuple[str, dict[str, str]]]:
    """Every caption of many draws of this person's templates."""
    pairs = {}
    for seed in range(20):
        texts, parts = captions(Attributes.from_dict(person), np.random.default_rng(seed))
        pairs.update(zip(texts, map(json.dumps, parts), strict=True))
    return [(text, json.loads(parts)) for text, parts in pairs.items()]


@pytest.mark.parametrize(
    ("family", "changes"),
    [
        ("hair_color", [{"hair_color": c} for c in ("black", "blue", "white")]),
        ("hair_length", [{"hair_length": "long"}, {"hair_length": "bald"}]),
        ("skin_tone", [{"skin_tone": "dark"}, {"skin_tone": "pale"}]),
        ("eyewear", [{"eyewear": "none"}, {"eyewear": "sunglasses"}]),
        ("beard", [{"beard": True, "mustache": False}, {"beard": False, "mustache": True}]),
        ("smiling", [{"smiling": False}]),
    ],
)
def test_a_swap_reads_like_a_caption_of_the_person_with_the_other_value(family, changes):
    """Swapped captions are among the captions the generator writes for the changed person."""
    swapped = {}
    for text, parts in _all_captions(PERSON):
        for seed in range(12):
            negative = SWAPS[family](Attributes.from_dict(PERSON), text, parts, _generator(seed))
            if negative is not None:
                swapped[negative] = text
    assert swapped, f"no caption of the person mentions {family}"
    wanted = set()
    for change in changes:
        wanted |= {text for text, _ in _all_captions(PERSON | change)}
    found = set(swapped) & wanted
    assert found, f"{family}: no swap matches a caption of a changed person"
    assert all(negative != text for negative, text in swapped.items())


def test_beard_swaps_keep_the_grammar():
    person = Attributes.from_dict(PERSON)
    text = "He is a young man with thick eyebrows. He is clean-shaven."
    negative = SWAPS["beard"](person, text, {"beard": "clean-shaven"}, _generator())
    assert negative.startswith("He is a young man with thick eyebrows. He has ")
    assert part_phrases(person)["beard"] == "clean-shaven"


def test_gender_swap_is_its_own_inverse_and_touches_whole_words_only():
    person = Attributes.from_dict(PERSON)
    text = "A portrait of a young man with olive skin. He is a gentleman, this guy."
    swapped = SWAPS["gender"](person, text, {}, _generator())
    assert swapped == "A portrait of a young woman with olive skin. She is a lady, this girl."
    assert SWAPS["gender"](person, swapped, {}, _generator()) == text
    assert SWAPS["gender"](person, "The person has a small nose.", {}, _generator()) is None


def test_hard_negatives_come_from_different_families_and_are_deterministic():
    text = "The person has short wavy red hair, blue eyes, a small nose and a closed-mouth smile."
    parts = {"hair": "short wavy red hair", "eyes": "blue eyes", "nose": "a small nose"}
    parts["mouth"] = "a closed-mouth smile"
    runs = [hard_negatives(PERSON, text, parts, _generator(3), limit=2) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 2 and text not in runs[0]
    assert all("blue eyes, a small nose" in n for n in runs[0])  # eye colour and nose are never swapped
    # hair colour, hair length and the smile: three families, so at most three negatives
    everything = hard_negatives(PERSON, text, parts, _generator(3), limit=10)
    assert len(everything) == len(set(everything)) == 3
    assert sum("a neutral mouth" in n for n in everything) == 1
    assert hard_negatives(PERSON, "The person has blue eyes.", {"eyes": "blue eyes"}, _generator(), 2) == []


def _people(count: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [sample_attributes(rng).to_dict() for _ in range(count)]


def test_short_captions_are_true_and_never_an_evaluation_prompt():
    prompts = {
        prompt.lower()
        for family in zero_shot_families().values()
        for texts in family.prompts.values()
        for prompt in texts
    }
    for person in _people(300):
        phrases = part_phrases(Attributes.from_dict(person))
        shorts = short_captions(person)
        assert len(shorts) == len({text for text, _ in shorts}) >= 4
        for text, parts in shorts:
            assert text.lower().rstrip(".") not in prompts
            ((part, phrase),) = parts.items()
            assert phrase in text
            assert phrase == phrases[part] or (part == "hair" and phrase.endswith(" hair"))
            assert not text.startswith(("A man ", "A woman ", "A person "))


def test_short_captions_state_colour_and_length_alone_and_swap_into_negatives():
    person = PERSON | {"hair_color": "red", "hair_length": "long"}
    texts = {text: parts for text, parts in short_captions(person)}
    assert "A young man with red hair." in texts and "A guy with long hair." in texts
    assert "A gentleman wearing eyeglasses." in texts and "A young man who is clean-shaven." in texts
    negative = SWAPS["eyewear"](Attributes.from_dict(person), "A guy wearing eyeglasses.",
                                texts["A guy wearing eyeglasses."], _generator())  # fmt: skip
    assert negative in ("A guy wearing no glasses.", "A guy wearing sunglasses.")


def test_a_text_true_of_several_people_is_a_positive_of_each():
    people = [PERSON, PERSON | {"eyewear": "sunglasses"}, PERSON | {"gender": "female", "beard": False}]
    data = SplitData(
        images=torch.zeros(3, 3, 8, 8, dtype=torch.uint8),
        captions=[["caption a"], ["caption b"], ["caption a"]],
        attributes=people,
        parts=[[{}], [{}], [{}]],
    )
    texts = ["caption a", "A young man with red hair.", "A guy wearing eyeglasses.", "A girl with red hair."]
    assert TrueTexts(data, short_captions=False).mask([0, 1, 2], texts).tolist() == [
        [True, False, False, False],
        [False, False, False, False],
        [True, False, False, False],
    ]
    assert TrueTexts(data, short_captions=True).mask([0, 1, 2], texts).tolist() == [
        [True, True, True, False],
        [False, True, False, False],
        [True, False, False, True],
    ]


def test_records_without_attributes_need_plain_captions():
    from pipelines.errors import InvalidInputError

    data = SplitData(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), [["a caption"]], [{}], [[{}]])
    with pytest.raises(InvalidInputError, match="data/real: records have no attributes.*--short-captions 0"):
        check_attributes(data, ClipTrainConfig(), "data/real")
    check_attributes(data, ClipTrainConfig(short_captions=0, negatives_per_text=0), "data/real")

"""The encoders and demo model shipped in pipelines/assets/: checksums, sizes, stored reference outputs.

After retraining a shipped model, regenerate the reference with
`.venv/bin/python tests/test_shipped_assets.py` (and update the asset's README).
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines import DEMO_MODEL
from pipelines.core.bundle import BUILTIN_MODELS
from pipelines.core.encoders import BUILTIN_CLIPS, SYNTHETIC_CLIP_DIR, SYNTHETIC_CLIP_SPEC, load_encoder
from pipelines.core.io import sha256_file
from pipelines.core.parsing import SYNTHETIC_PARSER, SYNTHETIC_PARSER_DIR, load_parser
from pipelines.encoders_training.checksums import CHECKSUMS_FILE, read_checksums

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = DATA / "shipped_reference.json"
HEAD = DATA / "synthetic_head_64.png"
"""A held-out synthetic head (test split of `prepare synthetic --seed 1 --num 20000`, id 000072): a man with
light brown skin, short red hair, eyeglasses and a mustache (no beard)."""
HEAD_LABELS = DATA / "synthetic_head_64_parsing.png"
PROMPTS = ["a person with red hair", "a person wearing eyeglasses", "a photo of a woman"]
MAX_ASSET_BYTES = 10 * 2**20


def _head() -> torch.Tensor:
    """(1, 3, 64, 64) in [-1, 1]."""
    array = np.array(Image.open(HEAD).convert("RGB"))
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 127.5 - 1


def reference_outputs() -> dict:
    """A few numbers computed by the shipped models from fixed inputs."""
    encoder, parser = load_encoder(SYNTHETIC_CLIP_SPEC), load_parser(SYNTHETIC_PARSER)
    head = _head()
    with torch.no_grad():
        text = encoder.encode_text(PROMPTS)
        image = encoder.encode_image(head)
        probabilities = parser(head)
    return {
        "prompts": PROMPTS,
        "text_features_first8": text[:, :8].tolist(),
        "image_features_first8": image[0, :8].tolist(),
        "image_text_cosine": (image @ text.t())[0].tolist(),
        "parser_class_fractions": probabilities.mean(dim=(0, 2, 3)).tolist(),
        "parser_probabilities_at_32_32": probabilities[0, :, 32, 32].tolist(),
    }


@pytest.mark.parametrize(
    "folder",
    [
        SYNTHETIC_CLIP_DIR,
        BUILTIN_CLIPS["synthetic-clip"][1],
        SYNTHETIC_PARSER_DIR,
        BUILTIN_MODELS[DEMO_MODEL],
    ],
    ids=["clip", "clip-v1", "parser", "demo"],
)
def test_shipped_files_match_their_recorded_checksums_and_stay_small(folder):
    recorded = read_checksums(folder)
    shipped = {p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS_FILE}
    assert set(recorded) == shipped - {"README.md"}
    for name, digest in recorded.items():
        assert sha256_file(folder / name) == digest, name
    assert sum((folder / name).stat().st_size for name in recorded) <= MAX_ASSET_BYTES


def test_shipped_models_reproduce_the_stored_reference_outputs():
    stored = json.loads(REFERENCE.read_text(encoding="utf-8"))
    now = reference_outputs()
    assert now["prompts"] == stored["prompts"]
    for key in stored:
        if key != "prompts":
            np.testing.assert_allclose(now[key], stored[key], atol=1e-4, rtol=0, err_msg=key)


def test_shipped_clip_reads_the_reference_head():
    from pipelines.data.synthetic.attributes import SKIN_TONES

    encoder = load_encoder(SYNTHETIC_CLIP_SPEC)
    with torch.no_grad():
        image = encoder.encode_image(_head())

    def pick(prompts: list[str]) -> str:
        return prompts[int((image @ encoder.encode_text(prompts).t()).argmax())]

    assert pick([f"a person with {tone} skin" for tone in SKIN_TONES]) == "a person with light brown skin"
    lengths = ["a person with a bald head", "a person with short hair", "a person with long hair"]
    assert pick(lengths) == "a person with short hair"
    assert pick(["a photo of a woman", "a photo of a man"]) == "a photo of a man"
    eyewear = ["a person with no glasses", "a person wearing eyeglasses", "a person wearing sunglasses"]
    assert pick(eyewear) == "a person wearing eyeglasses"  # the first version read sunglasses
    assert pick(["a man with a full beard", "a clean-shaven man"]) == "a clean-shaven man"


def test_shipped_parser_labels_the_reference_head():
    truth = torch.from_numpy(np.array(Image.open(HEAD_LABELS))).long()
    with torch.no_grad():
        predicted = load_parser(SYNTHETIC_PARSER)(_head())[0].argmax(dim=0)
    assert float((predicted == truth).float().mean()) > 0.95
    # measured: skin 0.93, hair 0.98, eyeglasses 0.42 (frames one pixel wide)
    for name, label, least in (("skin", 1, 0.9), ("hair", 13, 0.9), ("eyeglasses", 3, 0.3)):
        mine, true = predicted == label, truth == label
        assert float((mine & true).sum() / (mine | true).sum()) > least, name


if __name__ == "__main__":
    REFERENCE.write_text(json.dumps(reference_outputs(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")

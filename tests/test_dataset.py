"""The dataset folder validator and the text-embedding cache."""

import json
import shutil

import pytest
import torch
from PIL import Image

from pipelines.data.dataset import validate_dataset
from pipelines.data.synthetic import SyntheticConfig
from pipelines.data.text_cache import CACHE_FILE, TextCache, write_text_cache
from pipelines.errors import InvalidInputError
from pipelines.prepare import prepare_synthetic


def test_a_built_synthetic_set_passes_the_deep_validator(tiny_synthetic):
    info = validate_dataset(tiny_synthetic, deep=True)
    assert len(info.records) == info.manifest["num_images"] == 12
    assert info.manifest["kind"] == "dataset" and info.manifest["source"] == "synthetic"
    assert info.manifest["text_embeddings"] is None and info.manifest["rejected"] == 0
    labels = json.loads((tiny_synthetic / "dataset.json").read_text())["labels"]
    assert labels[0] == ["images/000000.png", info.records[0]["camera"]] and len(labels[0][1]) == 25


def _corrupt_line(root, number, change):
    path = root / "records.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[number - 1])
    change(record)
    lines[number - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


CORRUPTIONS = [
    (
        lambda r: r.update(camera=r["camera"][:16]),
        "records.jsonl line 3: camera label has 16 values, expected 25",
    ),
    (
        lambda r: r.update(split="val"),
        "records.jsonl line 3: split 'val' is not one of train, test, ood_test",
    ),
    (lambda r: r.pop("captions"), "records.jsonl line 3: missing captions"),
    (
        lambda r: r.update(parts=r["parts"][:2]),
        "records.jsonl line 3: parts must be a list with one entry per caption",
    ),
    (
        lambda r: r.update(image="images/missing.png"),
        "records.jsonl line 3: image file images/missing.png is missing",
    ),
    (
        lambda r: r.update(landmarks=[[0, 0]] * 4),
        "records.jsonl line 3: landmarks has shape [4, 2], expected [5, 2]",
    ),
    (lambda r: r.update(id="000000"), "records.jsonl line 3: duplicate id '000000'"),
]


@pytest.mark.parametrize(("change", "message"), CORRUPTIONS)
def test_corrupted_records_fail_with_one_line_naming_file_and_line(tiny_synthetic, tmp_path, change, message):
    root = tmp_path / "data"
    shutil.copytree(tiny_synthetic, root)
    _corrupt_line(root, 3, change)
    with pytest.raises(InvalidInputError) as error:
        validate_dataset(root)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(str(root / "records.jsonl"))


def test_index_files_and_images_are_cross_checked(tiny_synthetic, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_synthetic, root)
    (root / "records.jsonl").write_text((root / "records.jsonl").read_text() + "{not json\n")
    with pytest.raises(InvalidInputError, match=r"records.jsonl line 13: not valid JSON"):
        validate_dataset(root)
    shutil.rmtree(root)
    shutil.copytree(tiny_synthetic, root)
    labels = json.loads((root / "dataset.json").read_text())
    labels["labels"][0][1][3] += 1.0
    (root / "dataset.json").write_text(json.dumps(labels))
    with pytest.raises(InvalidInputError, match="dataset.json: labels do not match records.jsonl"):
        validate_dataset(root)
    shutil.rmtree(root)
    shutil.copytree(tiny_synthetic, root)
    Image.new("RGB", (16, 16)).save(root / "images" / "000004.png")
    with pytest.raises(InvalidInputError, match="line 5: 000004.png is RGB 16x16, expected RGB 32x32"):
        validate_dataset(root)
    Image.new("RGB", (32, 32)).save(root / "images" / "000004.png")
    Image.new("L", (32, 32), color=19).save(root / "parsing" / "000004.png")
    validate_dataset(root)
    with pytest.raises(InvalidInputError, match="line 5: parsing/000004.png has label 19, expected < 19"):
        validate_dataset(root, deep=True)


class FakeEncoder:
    """A deterministic stand-in for pipelines.core.encoders (features from character counts)."""

    encoder_id = "fake:chars"

    def encode_text(self, texts):
        features = torch.tensor([[text.count(c) + 1.0 for c in "aeiou st"] for text in texts])
        return torch.nn.functional.normalize(features, dim=-1)


def test_text_cache_round_trips_and_errors_clearly(tmp_path):
    texts = ["red hair", "a smiling woman with red hair.", "blue eyes"]
    entry = write_text_cache(tmp_path, texts + ["red hair"], FakeEncoder(), batch_size=2)
    assert entry == {
        "file": CACHE_FILE, "encoder_id": "fake:chars", "count": 3, "dim": 8,
        "key_scheme": entry["key_scheme"],
    }  # fmt: skip
    cache = TextCache.open(tmp_path, encoder_id="fake:chars")
    assert len(cache) == 3 and "blue eyes" in cache
    assert torch.allclose(
        cache.lookup(["blue eyes", "red hair"]), FakeEncoder().encode_text(["blue eyes", "red hair"])
    )
    with pytest.raises(InvalidInputError, match="no cached embedding for text 'green hair'"):
        cache.lookup(["green hair"])
    with pytest.raises(InvalidInputError, match="from encoder 'fake:chars', expected 'openclip:ViT-B-32'"):
        TextCache.open(tmp_path / CACHE_FILE, encoder_id="openclip:ViT-B-32")
    with pytest.raises(InvalidInputError, match="missing"):
        TextCache.open(tmp_path / "nowhere")


def test_prepare_with_the_builtin_encoder_caches_every_caption_and_phrase(tmp_path):
    config = SyntheticConfig(
        num_images=2, resolution=32, compile="never", device="cpu", encoder="builtin:tiny-random"
    )
    info = validate_dataset(prepare_synthetic(config, tmp_path / "d").path, deep=True)
    entry = info.manifest["text_embeddings"]
    assert entry["encoder_id"] == "builtin:tiny-random" and entry["file"] == CACHE_FILE
    cache = TextCache.open(info.root, encoder_id=entry["encoder_id"])
    record = info.records[1]
    features = cache.lookup(record["captions"] + list(record["parts"][0].values()))
    assert features.shape == (10 + len(record["parts"][0]), entry["dim"])
    assert torch.allclose(features.norm(dim=-1), torch.ones(len(features)), atol=1e-5)

"""Model bundles: exact round trip, and one-line errors for broken bundles."""

import json

import pytest
import torch

from pipelines.core import cameras
from pipelines.core.bundle import load_generator, random_generator, save_bundle
from pipelines.errors import InvalidInputError, OutputExistsError


@pytest.fixture(scope="module")
def generator():
    return random_generator("tiny", seed=3, text_encoder="builtin:tiny-random", text_dim=64)


def test_round_trip_is_exact(generator, tmp_path):
    path = save_bundle(generator, tmp_path / "bundle", extra={"note": "test"})
    loaded = load_generator(path)
    assert loaded.config == generator.config
    for (name, a), (_, b) in zip(generator.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    z = torch.randn(1, generator.config.mapping.z_dim)
    text = torch.randn(1, 64)
    camera = cameras.orbit_label(0.2, 0.0)
    with torch.no_grad():
        assert torch.equal(generator(z, camera, text)["image"], loaded(z, camera, text)["image"])
    assert json.loads((path / "config.json").read_text())["note"] == "test"


def test_random_generator_is_seeded():
    a = random_generator("tiny", seed=1, text_encoder="builtin:tiny-random", text_dim=64)
    b = random_generator("tiny", seed=1, text_encoder="builtin:tiny-random", text_dim=64)
    c = random_generator("tiny", seed=2, text_encoder="builtin:tiny-random", text_dim=64)
    assert torch.equal(a.backbone.const, b.backbone.const)
    assert not torch.equal(a.backbone.const, c.backbone.const)


def test_existing_bundle_needs_overwrite(generator, tmp_path):
    path = save_bundle(generator, tmp_path / "bundle")
    with pytest.raises(OutputExistsError):
        save_bundle(generator, path)
    save_bundle(generator, path, overwrite=True)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "generator.safetensors"]


def test_truncated_weights_give_one_line_error(generator, tmp_path):
    path = save_bundle(generator, tmp_path / "bundle")
    weights = path / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(InvalidInputError, match="corrupt or truncated") as info:
        load_generator(path)
    assert "\n" not in str(info.value) and "generator.safetensors" in str(info.value)


def test_broken_config_errors_name_the_file(generator, tmp_path):
    path = save_bundle(generator, tmp_path / "bundle")
    (path / "config.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="config.json: not valid JSON"):
        load_generator(path)
    (path / "config.json").write_text(json.dumps({"kind": "dataset"}))
    with pytest.raises(InvalidInputError, match="not a tg3dface model config"):
        load_generator(path)
    with pytest.raises(InvalidInputError, match="not found"):
        load_generator(tmp_path / "nowhere")


def test_weights_that_do_not_match_the_config_are_rejected(generator, tmp_path):
    path = save_bundle(generator, tmp_path / "bundle")
    config = json.loads((path / "config.json").read_text())
    config["generator"]["decoder"]["hidden_dim"] = 8
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidInputError, match="has shape"):
        load_generator(path)

"""Image–text encoders: spec forms, offline behaviour, QuickGELU, preprocessing and gradients."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.core import encoders
from pipelines.core.encoders import (
    TINY_CONFIG_PATH,
    TINY_MODEL_NAME,
    TINY_RANDOM_SPEC,
    check_encoder_id,
    load_encoder,
    needs_quick_gelu,
    parse_encoder_spec,
    resize_like_open_clip,
)
from pipelines.errors import InvalidInputError, MissingWeightsError

PROMPTS = ["a woman with red hair", "a smiling man with a beard and glasses"]


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(TINY_RANDOM_SPEC)


@pytest.fixture(scope="module")
def tiny_weights_file(tiny, tmp_path_factory):
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("clip") / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, str(path))
    return path


def _images(n=2, size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=generator) * 2 - 1


def test_tiny_random_shapes_and_unit_norm(tiny):
    text = tiny.encode_text(PROMPTS)
    image = tiny.encode_image(_images(3, size=80))
    assert tiny.encoder_id == "builtin:tiny-random"
    assert tiny.embed_dim == 64 and tiny.image_size == (64, 64)
    assert text.shape == (2, 64) and image.shape == (3, 64)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(image.norm(dim=-1), torch.ones(3))
    assert tiny.encode_text([]).shape == (0, 64)


def test_tiny_random_is_deterministic_and_leaves_global_rng_alone(tiny, tmp_path):
    state = torch.get_rng_state()
    model, tokenizer = encoders._build_open_clip(parse_encoder_spec(TINY_RANDOM_SPEC), tmp_path)
    fresh = encoders.ClipEncoder(model, tokenizer, TINY_RANDOM_SPEC)
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(fresh.encode_text(PROMPTS), tiny.encode_text(PROMPTS), rtol=0, atol=0)
    torch.testing.assert_close(fresh.encode_image(_images()), tiny.encode_image(_images()), rtol=0, atol=0)


def test_load_is_cached_per_spec_and_device(tiny):
    assert load_encoder(" builtin:tiny-random ", device="cpu") is tiny


def test_encoder_is_frozen_and_stays_in_eval_mode(tiny):
    parent = torch.nn.Sequential(tiny)
    parent.train()
    assert not tiny.training and not tiny.model.training
    assert not any(p.requires_grad for p in tiny.parameters())


def test_gradient_flows_from_image_features_to_input(tiny):
    images = _images(2, size=96).requires_grad_(True)
    target = tiny.encode_text(PROMPTS)
    (tiny.encode_image(images) * target).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_local_file_and_local_dir_round_trip_to_identical_embeddings(tiny, tiny_weights_file):
    folder = tiny_weights_file.parent / "folder"
    folder.mkdir()
    config = {"model_cfg": json.loads(TINY_CONFIG_PATH.read_text()), "preprocess_cfg": {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    (folder / "open_clip_model.safetensors").write_bytes(tiny_weights_file.read_bytes())
    for spec in (f"openclip:{TINY_MODEL_NAME}:{tiny_weights_file}", f"local-dir:{folder}"):
        loaded = load_encoder(spec)
        assert loaded.encoder_id == spec
        torch.testing.assert_close(loaded.encode_text(PROMPTS), tiny.encode_text(PROMPTS), rtol=0, atol=0)
        torch.testing.assert_close(
            loaded.encode_image(_images()), tiny.encode_image(_images()), rtol=0, atol=0
        )


def test_offline_tag_fails_fast_with_missing_weights_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    parse_encoder_spec("openclip:ViT-B-32:openai")  # open_clip imported before timing
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as caught:
        load_encoder("openclip:ViT-B-32:openai", weights_dir=tmp_path)
    assert time.perf_counter() - start < 2.0
    message = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in message
    assert "HF_HUB_OFFLINE" in message and "open_clip_model.safetensors" in message
    assert str(tmp_path / "open_clip" / "timm" / "vit_base_patch32_clip_224.openai") in message


def test_unreachable_hub_fails_without_download_retries(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setattr(encoders, "_hub_reachable", lambda endpoint: False)
    with pytest.raises(MissingWeightsError, match="unreachable"):
        load_encoder("openclip:ViT-B-32:laion2b_s34b_b79k", weights_dir=tmp_path)


def test_tag_weights_are_found_in_flat_and_hub_cache_layouts(tmp_path):
    spec = parse_encoder_spec("openclip:ViT-B-32:openai")
    tag_cfg = {"hf_hub": "timm/vit_base_patch32_clip_224.openai/"}
    snapshot = tmp_path / "hub" / "huggingface" / "models--timm--vit_base_patch32_clip_224.openai"
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text("abc123")
    cached = snapshot / "snapshots" / "abc123" / "open_clip_model.safetensors"
    cached.parent.mkdir(parents=True)
    cached.touch()
    assert encoders._resolve_tag_checkpoint(spec, tag_cfg, tmp_path / "hub") == cached
    flat = (
        tmp_path
        / "flat"
        / "open_clip"
        / "timm"
        / "vit_base_patch32_clip_224.openai"
        / "open_clip_model.safetensors"
    )
    flat.parent.mkdir(parents=True)
    flat.touch()
    assert encoders._resolve_tag_checkpoint(spec, tag_cfg, tmp_path / "flat") == flat


def test_connected_machine_downloads_tag_into_the_weights_home(tmp_path, monkeypatch):
    import huggingface_hub.constants
    import open_clip

    calls = []

    def fake_download(tag_cfg, cache_dir):
        calls.append(cache_dir)
        return "w"

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setattr(encoders, "_hub_reachable", lambda endpoint: True)
    monkeypatch.setattr(open_clip, "download_pretrained", fake_download)
    spec = parse_encoder_spec("openclip:ViT-B-32:openai")
    tag_cfg = open_clip.get_pretrained_cfg("ViT-B-32", "openai")
    assert encoders._resolve_tag_checkpoint(spec, tag_cfg, tmp_path) == Path("w")
    assert calls == [str(tmp_path / "huggingface")]


@pytest.mark.parametrize(
    ("model", "pretrained", "expected"),
    [
        ("ViT-B-32", "openai", True),
        ("ViT-B-32", "laion2b_s34b_b79k", False),
        ("ViT-B-32-quickgelu", None, True),
        ("ViT-B-32", None, False),
        (
            "ViT-B-32",
            "/hf/models--timm--vit_base_patch32_clip_224.openai/snapshots/r/open_clip_model.safetensors",
            True,
        ),
        ("ViT-B-32", "/weights/vit-b-32-openai.safetensors", True),
        ("ViT-B-32", "/weights/openai-fans/laion/open_clip_model.safetensors", False),
    ],
)
def test_quick_gelu_decision(model, pretrained, expected):
    assert needs_quick_gelu(model, pretrained) is expected


def test_torchscript_file_counts_as_openai(tmp_path):
    path = tmp_path / "ViT-B-32.pt"
    with pytest.warns(FutureWarning):
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    assert needs_quick_gelu("ViT-B-32", str(path))


def test_openai_file_builds_a_quick_gelu_model(tiny_weights_file, tmp_path):
    from open_clip.transformer import QuickGELU

    openai_file = tmp_path / "models--timm--tiny.openai" / "snapshots" / "r" / "open_clip_model.safetensors"
    openai_file.parent.mkdir(parents=True)
    openai_file.write_bytes(tiny_weights_file.read_bytes())
    quick = load_encoder(f"openclip:{TINY_MODEL_NAME}:{openai_file}")
    plain = load_encoder(f"openclip:{TINY_MODEL_NAME}:{tiny_weights_file}")
    assert any(isinstance(m, QuickGELU) for m in quick.modules())
    assert not any(isinstance(m, QuickGELU) for m in plain.modules())


def test_spec_is_canonicalised(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_encoder_spec(" openclip:ViT-B-32:openai ").encoder_id == "openclip:ViT-B-32:openai"
    spec = parse_encoder_spec(f"openclip:{TINY_MODEL_NAME}:w/tiny.safetensors")
    assert (
        spec.kind == "file" and spec.encoder_id == f"openclip:{TINY_MODEL_NAME}:{tmp_path}/w/tiny.safetensors"
    )
    assert parse_encoder_spec("local-dir:clip").encoder_id == f"local-dir:{tmp_path}/clip"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "clip:ViT-B-32",
        "openclip:ViT-B-32",
        "openclip::openai",
        "openclip:NoSuchNet:openai",
        "openclip:ViT-B-32:no_such_tag",
        "builtin:huge",
        "local-dir:",
    ],
)
def test_bad_spec_is_a_one_line_invalid_input_error(spec):
    with pytest.raises(InvalidInputError) as caught:
        parse_encoder_spec(spec)
    assert "\n" not in str(caught.value)


def test_weights_that_do_not_fit_the_model_are_a_one_line_error(tiny, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in tiny.model.state_dict().items() if k != "logit_scale"}
    path = tmp_path / "incomplete.safetensors"
    save_file(state, str(path))
    with pytest.raises(InvalidInputError, match="do not fit the open_clip model") as caught:
        load_encoder(f"openclip:{TINY_MODEL_NAME}:{path}")
    assert "\n" not in str(caught.value)


def test_missing_weights_file_and_incomplete_local_dir(tmp_path):
    with pytest.raises(MissingWeightsError, match="folder not found"):
        load_encoder(f"local-dir:{tmp_path / 'absent'}")
    with pytest.raises(MissingWeightsError, match="not found"):
        load_encoder(f"openclip:{TINY_MODEL_NAME}:{tmp_path / 'absent.safetensors'}")
    with pytest.raises(InvalidInputError, match="open_clip_config.json"):
        load_encoder(f"local-dir:{tmp_path}")
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(MissingWeightsError, match="no weights file"):
        load_encoder(f"local-dir:{tmp_path}")
    (tmp_path / "open_clip_model.safetensors").touch()
    with pytest.raises(InvalidInputError, match="model_cfg"):
        load_encoder(f"local-dir:{tmp_path}")


def test_check_encoder_id():
    check_encoder_id("builtin:tiny-random", "builtin:tiny-random", "data/manifest.json")
    with pytest.raises(InvalidInputError, match=r"^data/manifest.json: recorded text encoder is builtin"):
        check_encoder_id("builtin:tiny-random", "openclip:ViT-B-32:openai", "data/manifest.json")


@pytest.mark.parametrize("resize_mode", ["shortest", "longest", "squash"])
@pytest.mark.parametrize("shape", [(96, 160), (97, 131), (40, 50)])
def test_resize_matches_open_clip_pil_transform(resize_mode, shape):
    import open_clip
    from PIL import Image

    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    smooth = np.stack([np.sin(cols / 15) * 0.5 + 0.5, np.cos(rows / 11) * 0.5 + 0.5, (rows + cols) / 512], -1)
    pixels = (smooth * 255).round().astype(np.uint8)
    transform = open_clip.image_transform(
        64, is_train=False, resize_mode=resize_mode, interpolation="bicubic"
    )
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(3, 1, 1)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(3, 1, 1)
    reference = transform(Image.fromarray(pixels)) * std + mean
    ours = resize_like_open_clip(
        torch.from_numpy(pixels).permute(2, 0, 1)[None] / 255.0, (64, 64), resize_mode, "bicubic"
    )
    # PIL resizes uint8 pixels, so agreement is at the level of a couple of quantisation steps.
    assert (ours[0] - reference).abs().max() < 4 / 255

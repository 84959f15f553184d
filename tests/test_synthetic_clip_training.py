"""The CLIP trainer: a few steps on the tiny synthetic set, an interrupted run resumes bit for bit, the
exported folder loads through the toolkit's interface and open_clip's own `local-dir:`, the trimmed text
encoding equals open_clip's, and the tower sees images preprocessed as at inference."""

import pytest
import torch
from safetensors.torch import load_file

from pipelines.core.encoders import SYNTHETIC_MODEL_NAME, TINY_MODEL_NAME, ClipImagePreprocess, load_encoder
from pipelines.encoders_training.checksums import read_checksums
from pipelines.encoders_training.clip import (
    WEIGHTS_NAME,
    ClipTrainConfig,
    ContrastiveStep,
    build_clip,
    encode_text_trimmed,
    train_clip,
)
from pipelines.encoders_training.data import load_split, to_unit_range

CLIP_CONFIG = ClipTrainConfig(steps=4, batch=4, model=TINY_MODEL_NAME, checkpoint_every=2, log_every=1)


def _stop_after(calls: int):
    count = {"n": 0}

    def should_stop() -> bool:
        count["n"] += 1
        return count["n"] >= calls

    return should_stop


def _assert_same_weights(first, second):
    a, b = load_file(first), load_file(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_clip_trainer_resumes_bit_for_bit_and_exports_a_loadable_folder(tiny_synthetic, tmp_path):
    straight = train_clip(tiny_synthetic, tmp_path / "straight", CLIP_CONFIG)
    lines = []
    stopped = train_clip(tiny_synthetic, tmp_path / "resumed", CLIP_CONFIG, should_stop=_stop_after(2))
    assert stopped.step == 2 and not stopped.model_dir.exists()
    resumed = train_clip(
        tiny_synthetic, tmp_path / "resumed", CLIP_CONFIG, resume=True, progress=lines.append
    )
    assert straight.step == resumed.step == 4 and [line["step"] for line in lines] == [3, 4]
    _assert_same_weights(straight.model_dir / WEIGHTS_NAME, resumed.model_dir / WEIGHTS_NAME)
    assert set(read_checksums(resumed.model_dir)) == {WEIGHTS_NAME, "open_clip_config.json"}

    import open_clip

    folder = f"local-dir:{resumed.model_dir}"
    model, _, _ = open_clip.create_model_and_transforms(folder)
    tokens = open_clip.get_tokenizer(folder)(["a person with red hair"])
    encoder = load_encoder(folder)
    with torch.no_grad():
        direct = torch.nn.functional.normalize(model.eval().encode_text(tokens), dim=-1)
    torch.testing.assert_close(encoder.encode_text(["a person with red hair"]), direct)


@pytest.mark.parametrize("buckets", [1, 3, 50])
def test_trimmed_text_encoding_equals_open_clip_in_value_and_gradient(buckets):
    model, tokenizer = build_clip(SYNTHETIC_MODEL_NAME, 0)
    texts = ["A lady wearing sunglasses.", "", "A guy with red hair.", "a person"]
    texts += ["A young woman with long wavy red hair, blue eyes and a small nose. She is wearing eyeglasses."]
    tokens = tokenizer(texts)
    assert int((tokens != 0).sum(dim=1).max()) < tokens.shape[1]  # there is padding to cut
    trimmed = encode_text_trimmed(model, tokens, buckets)
    full = model.encode_text(tokens)
    assert trimmed.shape == full.shape == (5, 128)
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=1e-5)
    weights = torch.randn(5, 128, generator=torch.Generator().manual_seed(0))
    (grad_trimmed,) = torch.autograd.grad((trimmed * weights).sum(), model.token_embedding.weight)
    (grad_full,) = torch.autograd.grad((full * weights).sum(), model.token_embedding.weight)
    torch.testing.assert_close(grad_trimmed, grad_full, atol=1e-4, rtol=1e-3)


def test_trimmed_text_encoding_falls_back_for_towers_it_does_not_know():
    model, tokenizer = build_clip(SYNTHETIC_MODEL_NAME, 0)
    model.text_pool_type = "last"  # pooling at the last position sees the padding: cutting it is not exact
    tokens = tokenizer(["A lady wearing sunglasses.", "A guy with red hair."])
    assert torch.equal(encode_text_trimmed(model, tokens), model.encode_text(tokens))


def test_trainer_feeds_the_tower_the_encoders_preprocessing(tiny_synthetic):
    """The tiny tower takes 64 px and the tiny set is 32 px: training images are enlarged exactly as the
    encoder interface enlarges them at inference (a tower larger than the data trains as it is used)."""
    model, tokenizer = build_clip(TINY_MODEL_NAME, 0)
    split = load_split(tiny_synthetic, "train", max_resolution=64)
    assert split.images.shape[-1] == 32  # kept as they are, not enlarged at load
    config = ClipTrainConfig(batch=4, model=TINY_MODEL_NAME, max_shift=0.0, max_scale=0.0)
    step = ContrastiveStep(model, tokenizer, split, config, torch.device("cpu"))
    seen = []
    encode_image = model.encode_image
    model.encode_image = lambda x: seen.append(x) or encode_image(x)
    step(0)
    indices = step._indices(0).tolist()
    expected = ClipImagePreprocess(model.visual.preprocess_cfg)(to_unit_range(split.images[indices]))
    (fed,) = seen
    assert fed.shape == expected.shape == (4, 3, 64, 64)
    for image, straight in zip(fed, expected, strict=True):  # each image is flipped or not, at random
        assert torch.allclose(image, straight, atol=1e-5) or torch.allclose(
            image, straight.flip(-1), atol=1e-5
        )


def test_load_split_shrinks_larger_images_only(tiny_synthetic):
    native = load_split(tiny_synthetic, "train", limit=2)
    shrunk = load_split(tiny_synthetic, "train", max_resolution=16, limit=2)
    assert native.images.shape[-1] == 32 and shrunk.images.shape == (2, 3, 16, 16)
    assert shrunk.images.dtype == torch.uint8
    expected = torch.nn.functional.avg_pool2d(native.images.float(), 2).round()
    assert (shrunk.images.float() - expected).abs().max() <= 1

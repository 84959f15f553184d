"""The shipped synthetic-domain CLIP: its spec, both loading routes, shapes, normalisation, gradients."""

import pytest
import torch

from pipelines.core.encoders import (
    SYNTHETIC_CLIP_DIR,
    SYNTHETIC_CLIP_SPEC,
    SYNTHETIC_MODEL_NAME,
    load_encoder,
    parse_encoder_spec,
)

PROMPTS = ["a person with red hair", "a smiling man with a beard", "a woman wearing sunglasses"]


def test_spec_names_the_synthetic_domain_and_canonicalises():
    spec = parse_encoder_spec(" builtin:synthetic-clip-v3 ")
    assert spec.encoder_id == SYNTHETIC_CLIP_SPEC == "builtin:synthetic-clip-v3"
    assert spec.model == SYNTHETIC_MODEL_NAME


@pytest.mark.parametrize(
    "spec, model, image_size",
    [
        ("builtin:synthetic-clip", "tg3dface-synthetic", 64),
        ("builtin:synthetic-clip-v2", "tg3dface-synthetic-rn", 64),
    ],
)
def test_earlier_synthetic_clips_still_load_with_their_own_architecture(spec, model, image_size):
    assert parse_encoder_spec(spec).model == model != SYNTHETIC_MODEL_NAME
    earlier, current = load_encoder(spec), load_encoder(SYNTHETIC_CLIP_SPEC)
    assert earlier.encoder_id == spec and earlier.embed_dim == current.embed_dim == 128
    assert earlier.image_size == (image_size, image_size) != current.image_size
    assert not torch.allclose(earlier.encode_text(PROMPTS), current.encode_text(PROMPTS), atol=0.1)


def test_loads_through_the_toolkit_with_unit_norm_features_and_image_gradients():
    encoder = load_encoder(SYNTHETIC_CLIP_SPEC)
    assert encoder.encoder_id == SYNTHETIC_CLIP_SPEC
    assert encoder.embed_dim == 128 and encoder.image_size == (96, 96)  # 64 px images are enlarged
    text = encoder.encode_text(PROMPTS)
    images = (torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_()
    features = encoder.encode_image(images)
    assert text.shape == (3, 128) and features.shape == (2, 128)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(2))
    features[:, 0].sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_open_clip_local_dir_route_gives_the_same_features():
    import open_clip

    folder = f"local-dir:{SYNTHETIC_CLIP_DIR}"
    model, _, preprocess = open_clip.create_model_and_transforms(folder)
    tokenizer = open_clip.get_tokenizer(folder)
    assert tokenizer.vocab_size == 49408
    with torch.no_grad():
        direct = torch.nn.functional.normalize(model.eval().encode_text(tokenizer(PROMPTS)), dim=-1)
    torch.testing.assert_close(load_encoder(SYNTHETIC_CLIP_SPEC).encode_text(PROMPTS), direct)


def test_evaluation_scores_every_attribute_family(tiny_synthetic):
    import json

    from pipelines.encoders_training.evaluate import EvalRequest, evaluate_encoders, zero_shot_families

    report = evaluate_encoders(EvalRequest(tiny_synthetic, "train", clip=SYNTHETIC_CLIP_SPEC))
    clip = json.loads(json.dumps(report, allow_nan=False))["results"]["clip"]
    assert clip["encoder_id"] == SYNTHETIC_CLIP_SPEC
    assert set(clip["zero_shot"]) == set(zero_shot_families()) == {
        "hair_color", "hair_length", "eye_color", "glasses", "beard", "smile", "gender", "skin_tone"
    }  # fmt: skip
    assert all(0 <= row["accuracy"] <= 1 for row in clip["zero_shot"].values())
    assert clip["retrieval_top1_in_64"] is None  # fewer than 64 images


def test_synthetic_images_score_higher_with_their_own_captions_than_with_others(tiny_synthetic):
    from pipelines.data.dataset import read_dataset
    from pipelines.metrics.clip_score import clip_score, encode_images, encode_texts
    from pipelines.metrics.reader import dataset_images
    from pipelines.metrics.sampling import derangement

    info = read_dataset(tiny_synthetic)
    encoder = load_encoder(SYNTHETIC_CLIP_SPEC)
    images = encode_images(encoder, dataset_images(info.root, info.records), batch_size=16)
    captions_per_image = len(info.records[0]["captions"])
    # every caption of every image; the shuffled pairs give each caption the image of another record
    texts = encode_texts(encoder, [c for r in info.records for c in r["captions"]], batch_size=64).cpu()
    paired = images.repeat_interleave(captions_per_image, dim=0)
    partner = derangement(len(info.records), seed=0).repeat_interleave(captions_per_image)
    shuffled_images = images[partner]
    matched, shuffled = clip_score(paired, texts), clip_score(shuffled_images, texts)
    # measured: 0.43 against 0.00 (12 images at 32 px, 10 captions each)
    assert matched.num_pairs == 12 * captions_per_image
    assert matched.mean_cosine > 0.35 and matched.mean_cosine > shuffled.mean_cosine + 0.3

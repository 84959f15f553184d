"""MVIC identity models on a real public-domain face (skimage's astronaut) and the CLIP score arithmetic."""

import numpy as np
import pytest
import torch

from pipelines.errors import InvalidInputError, MissingWeightsError
from pipelines.metrics.clip_score import clip_score
from pipelines.metrics.identity import IdentityConfig, load_identity_model
from pipelines.metrics.mvic import multiview_identity
from pipelines.metrics.sampling import derangement

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """(3, 256, 256) uint8: the face of skimage's astronaut portrait."""
    from skimage import data

    return torch.from_numpy(data.astronaut()[:256, 128:384].copy()).permute(2, 0, 1)


@pytest.fixture(scope="module")
def dlib_model():
    return load_identity_model(IdentityConfig("dlib"))


def test_mvic_of_a_face_against_itself_is_one(dlib_model, astronaut):
    frontal = astronaut[None]
    result = multiview_identity(dlib_model, frontal, {-15.0: frontal, 15.0: frontal})
    assert result["mean"] == pytest.approx(1.0, abs=1e-6)
    assert result["pairs"] == 2 and result["no_face_rate"] == 0.0
    assert result["identity_model"] == "dlib-resnet-v1"


def test_mirrored_face_is_the_same_person_and_a_faceless_image_is_counted(dlib_model, astronaut):
    mirrored = astronaut.flip(-1)[None]
    blank = torch.full_like(astronaut, 128)[None]
    result = multiview_identity(dlib_model, astronaut[None], {30.0: mirrored, -30.0: blank})
    # dlib's same-person threshold is a distance of 0.6 between unit descriptors: cosine > 0.82
    assert result["per_yaw"]["+30"] > 0.9
    assert result["per_yaw"]["-30"] is None
    assert result["pairs"] == 1 and result["no_face_rate"] == pytest.approx(1 / 3)


@pytest.mark.slow  # builds and saves a 175 MB random IR-SE50
def test_arcface_loads_a_users_weights_on_the_cpu(astronaut, tmp_path):
    from facexlib.recognition.arcface_arch import Backbone

    torch.manual_seed(0)
    path = tmp_path / "recognition_arcface_ir_se50.pth"
    torch.save(Backbone(num_layers=50, drop_ratio=0.6, mode="ir_se").state_dict(), path)
    model = load_identity_model(IdentityConfig("arcface", str(path)), "cpu")
    embedding = model.embed(astronaut.permute(1, 2, 0).numpy())
    assert embedding.shape == (512,) and embedding.norm().item() == pytest.approx(1.0, abs=1e-4)
    result = multiview_identity(model, astronaut[None], {15.0: astronaut[None]})
    assert result["mean"] == pytest.approx(1.0, abs=1e-5) and result["identity_model"] == "arcface-ir-se50"


def test_arcface_without_weights_is_a_missing_weights_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="arcface"):
        load_identity_model(IdentityConfig("arcface"))
    with pytest.raises(MissingWeightsError, match="not found"):
        load_identity_model(IdentityConfig("arcface", str(tmp_path / "missing.pth")))
    with pytest.raises(InvalidInputError):
        load_identity_model(IdentityConfig("insightface"))


def test_clip_score_of_matched_pairs_beats_shuffled_pairs():
    generator = torch.Generator().manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(16, 32, generator=generator), dim=-1)
    images = torch.nn.functional.normalize(text + 0.05 * torch.randn(16, 32, generator=generator), dim=-1)
    identical = clip_score(text, text)
    assert identical.mean_cosine == pytest.approx(1.0, abs=1e-6) and identical.score == pytest.approx(
        100.0, abs=1e-4
    )
    partner = derangement(16, seed=1)
    assert (partner != torch.arange(16)).all() and sorted(partner.tolist()) == list(range(16))
    matched, shuffled = clip_score(images, text), clip_score(images, text, partner)
    assert matched.mean_cosine > 0.8 and abs(shuffled.mean_cosine) < 0.3
    expected = np.mean([float(images[i] @ text[partner[i]]) for i in range(16)])
    assert shuffled.mean_cosine == pytest.approx(expected, abs=1e-6)

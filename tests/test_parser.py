"""Face parsers: spec forms, the facexlib BiSeNet route and its label remap, gradients, folders."""

import pytest
import torch

from pipelines.core.parsing import (
    CELEBAMASK_FROM_FACEXLIB,
    FACEXLIB_BISENET,
    FACEXLIB_CLASSES,
    TINY_RANDOM_PARSER,
    SmallParser,
    SmallParserConfig,
    load_parser,
    remap_facexlib,
    save_parser_folder,
)
from pipelines.data.labels import PARSING_CLASSES
from pipelines.encoders_training.data import random_affine
from pipelines.errors import InvalidInputError, MissingWeightsError


def _images(n=2, size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=generator) * 2 - 1


def test_facexlib_remap_matches_the_two_label_orders_of_design_5_4():
    # facexlib (face-parsing) index -> CelebAMask-HQ index, written out by hand from DESIGN §5.4
    by_hand = {0: 0, 1: 1, 2: 6, 3: 7, 4: 4, 5: 5, 6: 3, 7: 8, 8: 9, 9: 15, 10: 2, 11: 10, 12: 11, 13: 12}
    by_hand |= {14: 17, 15: 16, 16: 18, 17: 13, 18: 14}
    for facexlib_index, celebamask_index in by_hand.items():
        one_hot = torch.zeros(1, 19, 1, 1)
        one_hot[0, facexlib_index] = 1
        assert int(remap_facexlib(one_hot).argmax(dim=1)) == celebamask_index
        assert FACEXLIB_CLASSES[facexlib_index] == PARSING_CLASSES[celebamask_index]
    assert sorted(CELEBAMASK_FROM_FACEXLIB) == list(range(19))


@pytest.fixture(scope="module")
def bisenet_home(tmp_path_factory):
    """A weights home with a randomly initialised BiSeNet saved under facexlib's upstream file name."""
    from facexlib.parsing.bisenet import BiSeNet

    home = tmp_path_factory.mktemp("weights")
    (home / "facexlib").mkdir()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = BiSeNet(num_class=19).eval()
    torch.save(network.state_dict(), home / "facexlib" / "parsing_bisenet.pth")
    return home, network


def test_bisenet_route_takes_the_main_output_at_512_px_remapped(bisenet_home):
    home, network = bisenet_home
    parser = load_parser(FACEXLIB_BISENET, weights_dir=home)
    images = _images(1, size=64)
    probabilities = parser(images)
    assert parser.parser_id == FACEXLIB_BISENET and probabilities.shape == (1, 19, 64, 64)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(1, 64, 64))
    unit = torch.nn.functional.interpolate((images + 1) / 2, size=(512, 512), mode="bilinear")
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    with torch.no_grad():
        main = network((unit - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))[0]
    expected = torch.nn.functional.interpolate(main, size=(64, 64), mode="bilinear").softmax(dim=1)
    torch.testing.assert_close(probabilities, expected[:, list(CELEBAMASK_FROM_FACEXLIB)])


def test_missing_bisenet_is_a_one_line_error_naming_file_and_place(tmp_path):
    with pytest.raises(MissingWeightsError) as caught:
        load_parser(FACEXLIB_BISENET, weights_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "parsing_bisenet.pth" in message
    assert str(tmp_path / "facexlib" / "parsing_bisenet.pth") in message


@pytest.mark.parametrize("spec", [TINY_RANDOM_PARSER, "builtin:synthetic-parser"])
def test_builtin_parsers_are_differentiable_probabilities(spec):
    parser = load_parser(spec)
    images = _images(2).requires_grad_(True)
    probabilities = parser(images)
    assert probabilities.shape == (2, 19, 64, 64)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(2, 64, 64))
    probabilities[:, 13].mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in parser.parameters())


def test_parser_folder_round_trips(tmp_path):
    network = SmallParser(width=8)
    save_parser_folder(network, SmallParserConfig(width=8, resolution=32, trained_on="test"), tmp_path)
    parser = load_parser(f"local-dir:{tmp_path}")
    images = _images(1, size=32)
    with torch.no_grad():
        torch.testing.assert_close(parser(images), network.eval()(images))
    assert parser.parser_id == f"local-dir:{tmp_path}"


def test_bad_parser_specs_are_one_line_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown parser"):
        load_parser("bisenet")
    with pytest.raises(MissingWeightsError, match="parser.safetensors"):
        load_parser(f"local-dir:{tmp_path}")


def test_flip_moves_labels_with_the_image_and_swaps_left_and_right():
    labels = torch.zeros(8, 16, 16, dtype=torch.long)
    labels[:, 4:8, 2:5] = 4  # l_eye, on the image's left
    expected_flipped = torch.zeros(16, 16, dtype=torch.long)
    expected_flipped[4:8, 11:14] = 5  # mirrored onto the image's right, where it is the r_eye
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    moved, moved_labels = random_affine(images, generator, 0.0, 0.0, labels)
    flipped = (moved - images).abs().flatten(1).amax(1) > 1e-5
    assert 0 < int(flipped.sum()) < 8
    torch.testing.assert_close(moved[flipped], images[flipped].flip(-1), atol=1e-5, rtol=0)
    assert torch.equal(moved_labels[~flipped], labels[~flipped])
    assert all(torch.equal(m, expected_flipped) for m in moved_labels[flipped])

"""Each loss term on tiny inputs: sign, known values and gradient flow."""

import math

import torch

from pipelines.core import losses
from pipelines.core.parsing import NUM_CLASSES, PART_CLASSES


def test_contrastive_is_lower_for_matched_than_shuffled_pairs():
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(8, 16, generator=generator)
    image = text + 0.1 * torch.randn(8, 16, generator=generator)
    matched = losses.contrastive_loss(image, text, 0.5)
    shuffled = losses.contrastive_loss(image, text.roll(3, 0), 0.5)
    assert matched < shuffled


def test_contrastive_of_uninformative_features_is_log_n():
    features = torch.ones(6, 4)
    value = losses.contrastive_loss(features, features, 0.5)
    assert abs(value.item() - math.log(6)) < 1e-5


def test_contrastive_treats_repeated_captions_as_positives():
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    image = text.clone()
    with_groups = losses.contrastive_loss(image, text, 0.1, groups=torch.tensor([0, 0, 1]))
    without = losses.contrastive_loss(image, text, 0.1)
    assert with_groups < 1e-3 < without


def test_contrastive_extra_texts_join_the_image_to_text_side_only():
    # two orthogonal pairs at tau = 1: matched logits 1, mismatched 0
    features = torch.eye(2)
    plain = losses.contrastive_loss(features, features, 1.0)
    one_side = math.log(math.e + 1) - 1
    assert abs(plain.item() - one_side) < 1e-6
    # a negative equal to the first text: image 0 sees {e, 1, e}, image 1 sees {1, e, 1}
    texts = torch.cat([features, features[:1]])
    hard = losses.contrastive_loss(
        features, texts, 1.0, positives=torch.tensor([[True, False, False], [False, True, False]])
    )
    expected = 0.5 * (0.5 * ((math.log(2 * math.e + 1) - 1) + (math.log(math.e + 2) - 1)) + one_side)
    assert abs(hard.item() - expected) < 1e-6
    # the same text as a positive of image 0 makes image 0's row easier, not harder
    shared = losses.contrastive_loss(
        features, texts, 1.0, positives=torch.tensor([[True, False, True], [False, True, False]])
    )
    assert shared < hard


def test_contrastive_gradient_pulls_pairs_together():
    text = torch.eye(4)
    image = torch.randn(4, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = losses.contrastive_loss(image, text, 0.5)
    loss.backward()
    stepped = (image - 0.5 * image.grad).detach()
    assert losses.contrastive_loss(stepped, text, 0.5) < loss


def test_adversarial_signs():
    low, high = torch.full((4,), -2.0), torch.full((4,), 2.0)
    assert losses.generator_adversarial(high) < losses.generator_adversarial(low)
    assert losses.discriminator_adversarial(high, low) < losses.discriminator_adversarial(low, high)
    assert abs(losses.generator_adversarial(torch.zeros(3)).item() - math.log(2)) < 1e-6


def test_r1_of_a_linear_discriminator_is_its_squared_weight_norm():
    weight = torch.tensor([1.0, -2.0, 3.0])
    weight_raw = torch.tensor([0.5, 0.5])
    x = torch.randn(5, 3, requires_grad=True)
    y = torch.randn(5, 2, requires_grad=True)
    logits = x @ weight + y @ weight_raw
    penalty = losses.r1_penalty(logits, [x, y])
    assert abs(penalty.item() - (14.0 + 0.5)) < 1e-5


def test_density_regularization_is_zero_for_constant_and_positive_for_rough_fields():
    points = torch.rand(2, 100, 3) - 0.5
    constant = losses.density_regularization(
        lambda p: torch.ones(*p.shape[:-1], 1), points, 0.004, torch.Generator().manual_seed(0)
    )
    assert constant.item() == 0.0
    rough = losses.density_regularization(
        lambda p: torch.sin(500 * p[..., :1]), points, 0.004, torch.Generator().manual_seed(0)
    )
    assert rough.item() > 0.1


def test_fine_grained_loss_rewards_parts_that_match_their_phrases():
    # 4 images whose hair region holds a colour; the "encoder" reads the mean colour of the image
    colours = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]])
    images = colours[:, :, None, None].expand(4, 3, 8, 8).clone()
    labels = torch.zeros(4, 8, 8, dtype=torch.long)
    labels[:, :4] = PART_CLASSES["hair"][0]
    probabilities = torch.nn.functional.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float()

    def encode(x):
        return x.mean(dim=(2, 3))

    rows = torch.arange(4)
    matched = {"hair": (rows, colours, rows)}
    shuffled = {"hair": (rows, colours.roll(1, 0), rows)}
    good = losses.fine_grained_loss(encode, images, probabilities, matched, 0.5)
    bad = losses.fine_grained_loss(encode, images, probabilities, shuffled, 0.5)
    assert good < bad
    single = {"hair": (rows[:1], colours[:1], rows[:1])}
    assert losses.fine_grained_loss(encode, images, probabilities, single, 0.5).item() == 0.0

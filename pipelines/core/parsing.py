"""Face parsing interface: images -> probabilities over the 19 CelebAMask-HQ classes, and part masks.

Every parser (the small one trained on the synthetic world, facexlib's BiSeNet on connected machines)
maps (N, 3, H, W) images in [-1, 1] to (N, 19, H, W) class probabilities in CelebAMask-HQ's order
(DESIGN §5.4), differentiably with respect to the input, so the fine-grained alignment loss can cut a
render into its parts.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.errors import InvalidInputError

NUM_CLASSES = 19

PART_CLASSES: dict[str, tuple[int, ...]] = {
    "hair": (13,),
    "eyes": (4, 5),
    "brows": (6, 7),
    "nose": (2,),
    "mouth": (10, 11, 12),
    "skin": (1,),
    "face": (1, 2, 4, 5, 6, 7, 10, 11, 12),
    "eyeglasses": (3,),
    "beard": (1, 10, 11, 12),
    "accessories": (14, 15, 16),
}
"""Which classes make up each part named by the captions' part phrases (a beard is labelled skin)."""

TINY_RANDOM_PARSER = "builtin:tiny-random-parser"
"""A seeded, randomly initialised SmallParser: for tests and smoke runs only."""


class SmallParser(nn.Module):
    """A small encoder-decoder CNN for 19-class face parsing at 64-128 px.

    Args:
        width: channels of the first level (doubled at each of the three downsamplings).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        widths = (width, width * 2, width * 4, width * 8)

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU(),
            )  # fmt: skip

        self.down = nn.ModuleList(
            block(cin, cout) for cin, cout in zip((3, *widths[:-1]), widths, strict=True)
        )
        self.up = nn.ModuleList(
            block(widths[i] + widths[i - 1], widths[i - 1]) for i in range(len(widths) - 1, 0, -1)
        )
        self.head = nn.Conv2d(widths[0], NUM_CLASSES, 1)

    def logits(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1], H and W multiples of 8 -> (N, 19, H, W) logits."""
        skips, x = [], images
        for index, block in enumerate(self.down):
            x = block(x if index == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(
                torch.cat([F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), skip], 1)
            )
        return self.head(x)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 19, H, W) class probabilities."""
        return self.logits(images).softmax(dim=1)


class FaceParser(nn.Module):
    """A frozen parser with its id: `forward(images in [-1, 1]) -> (N, 19, H, W)` probabilities."""

    def __init__(self, network: nn.Module, parser_id: str) -> None:
        super().__init__()
        self.network = network.eval().requires_grad_(False)
        self.parser_id = parser_id

    def train(self, mode: bool = True) -> FaceParser:
        """Stay in eval mode: the parser is frozen inside training."""
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 19, H, W) probabilities (CelebAMask-HQ order)."""
        return self.network(images)


def load_parser(spec: str, device: str | torch.device = "cpu") -> FaceParser:
    """Build (or return the cached) frozen parser for `spec`."""
    return _load_parser(spec, str(torch.device(device)))


@lru_cache(maxsize=4)
def _load_parser(spec: str, device: str) -> FaceParser:
    if spec == TINY_RANDOM_PARSER:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            network = SmallParser(width=8)
        return FaceParser(network, spec).to(device)
    raise InvalidInputError(f"unknown parser {spec!r} (available: {TINY_RANDOM_PARSER})")


def part_mask(probabilities: Tensor, part: str) -> Tensor:
    """(N, 19, H, W) probabilities -> (N, 1, H, W) soft mask of a named part (see PART_CLASSES)."""
    return probabilities[:, list(PART_CLASSES[part])].sum(dim=1, keepdim=True)


def label_part_mask(labels: Tensor, part: str) -> Tensor:
    """(N, H, W) integer label maps (e.g. ground-truth parsing) -> (N, 1, H, W) float mask of a part."""
    classes = torch.tensor(PART_CLASSES[part], device=labels.device)
    return torch.isin(labels, classes)[:, None].float()

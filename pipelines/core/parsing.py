"""Face parsing interface: images -> probabilities over the 19 CelebAMask-HQ classes, and part masks.

Every parser maps (N, 3, H, W) images in [-1, 1] to (N, 19, H, W) class probabilities in CelebAMask-HQ's
order (DESIGN §5.4), differentiably with respect to the input, so the fine-grained alignment loss can cut a
render into its parts. A parser is named by a spec, recorded as its id:

    builtin:synthetic-parser   SmallParser trained on the synthetic world, shipped in
                               pipelines/assets/synthetic_parser/ (it knows only synthetic heads)
    builtin:tiny-random-parser a seeded, randomly initialised SmallParser (tests, smoke runs)
    local-dir:<folder>         a SmallParser folder (parser_config.json + parser.safetensors), e.g. one
                               trained with `tg3dface encoders train-parser`
    facexlib:bisenet           facexlib's BiSeNet (real faces), parsing_bisenet.pth from the weights home

facexlib is imported inside the function that needs it, so importing this module is cheap.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.core.weights import FACEXLIB_SUBDIR, find_weight_file
from pipelines.data.labels import PARSING_CLASSES
from pipelines.errors import InvalidInputError, MissingWeightsError

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
    "makeup": (1, 4, 5, 11, 12),
}
"""Which classes make up each part named by the captions' part phrases (a beard is labelled skin)."""

TINY_RANDOM_PARSER = "builtin:tiny-random-parser"
"""A seeded, randomly initialised SmallParser: for tests and smoke runs only."""
SYNTHETIC_PARSER = "builtin:synthetic-parser"
"""The SmallParser trained on the synthetic world and shipped with the package."""
SYNTHETIC_PARSER_DIR = Path(__file__).resolve().parents[1] / "assets" / "synthetic_parser"
FACEXLIB_BISENET = "facexlib:bisenet"
"""facexlib's BiSeNet face parser (trained on CelebAMask-HQ photos)."""
PARSER_SPECS = f"{SYNTHETIC_PARSER}, {TINY_RANDOM_PARSER}, local-dir:<folder> or {FACEXLIB_BISENET}"
PARSER_CONFIG_FILE = "parser_config.json"
PARSER_WEIGHTS_FILE = "parser.safetensors"

BISENET_FILE = "parsing_bisenet.pth"
BISENET_URL = "https://github.com/xinntao/facexlib/releases/download/v0.2.0/parsing_bisenet.pth"
BISENET_INPUT_SIZE = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACEXLIB_CLASSES = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)  # fmt: skip
"""The label order of facexlib's BiSeNet (that of the popular face-parsing model), not CelebAMask-HQ's."""
CELEBAMASK_FROM_FACEXLIB = tuple(FACEXLIB_CLASSES.index(name) for name in PARSING_CLASSES)
"""Entry j: the facexlib channel that holds CelebAMask-HQ class j."""


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


@dataclass(frozen=True)
class SmallParserConfig:
    """What parser_config.json records about a SmallParser folder."""

    width: int = 16
    """Channels of the first level of SmallParser."""
    resolution: int = 64
    """Image side it was trained at (it runs at any multiple of 8, best near this)."""
    trained_on: str = ""
    """The data it was trained on, in words (e.g. "synthetic heads, 64 px")."""


def save_parser_folder(network: SmallParser, config: SmallParserConfig, folder: Path) -> None:
    """Write parser_config.json and parser.safetensors (float32) into an existing `folder` (the caller
    stages it)."""
    from safetensors.torch import save_file

    weights = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in network.state_dict().items()}
    save_file(weights, Path(folder) / PARSER_WEIGHTS_FILE)
    document = {"architecture": "SmallParser", "num_classes": NUM_CLASSES, **asdict(config)}
    (Path(folder) / PARSER_CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_parser(
    spec: str, device: str | torch.device = "cpu", weights_dir: str | Path | None = None
) -> FaceParser:
    """Build (or return the cached) frozen parser for `spec` (see the module docstring for the forms).

    Parsers are cached per (spec, device, weights folder); the returned module is shared: do not modify it.

    Raises:
        InvalidInputError: an unknown spec or a malformed parser folder.
        MissingWeightsError: a weights file is not there (exit code 3).
    """
    spec = spec.strip()
    if spec.startswith("local-dir:"):
        spec = "local-dir:" + str(Path(spec.partition(":")[2]).expanduser().absolute())
    folder = None if weights_dir in (None, "") else str(Path(weights_dir).expanduser().absolute())
    return _load_parser(spec, str(torch.device(device)), folder)


@lru_cache(maxsize=4)
def _load_parser(spec: str, device: str, weights_dir: str | None) -> FaceParser:
    if spec == TINY_RANDOM_PARSER:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            network: nn.Module = SmallParser(width=8)
    elif spec == SYNTHETIC_PARSER:
        network = load_parser_folder(SYNTHETIC_PARSER_DIR, spec)
    elif spec.startswith("local-dir:"):
        network = load_parser_folder(Path(spec.partition(":")[2]), spec)
    elif spec == FACEXLIB_BISENET:
        network = BiSeNetParser(load_bisenet(weights_dir))
    else:
        raise InvalidInputError(f"unknown parser {spec!r} (expected {PARSER_SPECS})")
    return FaceParser(network, spec).to(device)


def load_parser_folder(folder: Path, where: str) -> SmallParser:
    """The SmallParser stored in `folder` (parser_config.json + parser.safetensors), in float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not (folder / PARSER_WEIGHTS_FILE).is_file():
        raise MissingWeightsError(f"{where}: {PARSER_WEIGHTS_FILE} is not in {folder}")
    try:
        document = json.loads((folder / PARSER_CONFIG_FILE).read_text(encoding="utf-8"))
        config = SmallParserConfig(**{k: document[k] for k in ("width", "resolution", "trained_on")})
        weights = load_file(folder / PARSER_WEIGHTS_FILE)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, SafetensorError) as error:
        raise InvalidInputError(f"{where}: {folder} is not a parser folder ({error})") from error
    network = SmallParser(width=config.width)
    try:
        network.load_state_dict({k: v.float() for k, v in weights.items()})
    except RuntimeError as error:
        raise InvalidInputError(
            f"{where}: the weights do not fit SmallParser(width={config.width})"
        ) from error
    return network


def load_bisenet(weights_dir: str | Path | None = None) -> nn.Module:
    """facexlib's BiSeNet with the weights of <weights home>/facexlib/parsing_bisenet.pth (no download).

    Raises:
        MissingWeightsError: the file is not there; the message says where to download it and put it.
    """
    path = find_weight_file(BISENET_FILE, weights_dir, FACEXLIB_SUBDIR, BISENET_URL)
    from facexlib.parsing.bisenet import BiSeNet

    network = BiSeNet(num_class=NUM_CLASSES)
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, EOFError) as error:
        raise InvalidInputError(f"{path}: not facexlib's BiSeNet weights ({error})") from error
    return network


class BiSeNetParser(nn.Module):
    """facexlib's BiSeNet behind the parser interface: [-1, 1] in, CelebAMask-HQ-order probabilities out.

    The image is resized to 512 px and ImageNet-normalised (as facexlib's own inference does); of BiSeNet's
    three outputs (main, two auxiliary heads) the main logits are taken, resized back to the input size, and
    their channels reordered from facexlib's label order to CelebAMask-HQ's.
    """

    def __init__(self, bisenet: nn.Module) -> None:
        super().__init__()
        self.bisenet = bisenet
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("order", torch.tensor(CELEBAMASK_FROM_FACEXLIB), persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 19, H, W) probabilities in CelebAMask-HQ order."""
        size = images.shape[-2:]
        unit = F.interpolate(
            (images + 1) / 2, size=(BISENET_INPUT_SIZE,) * 2, mode="bilinear", align_corners=False
        )
        logits = self.bisenet((unit - self.mean) / self.std)[0]
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return remap_facexlib(logits.softmax(dim=1))


def remap_facexlib(scores: Tensor) -> Tensor:
    """(N, 19, ...) scores in facexlib's label order -> the same in CelebAMask-HQ's order."""
    return scores[:, list(CELEBAMASK_FROM_FACEXLIB)]


def part_mask(probabilities: Tensor, part: str) -> Tensor:
    """(N, 19, H, W) probabilities -> (N, 1, H, W) soft mask of a named part (see PART_CLASSES)."""
    return probabilities[:, list(PART_CLASSES[part])].sum(dim=1, keepdim=True)


def label_part_mask(labels: Tensor, part: str) -> Tensor:
    """(N, H, W) integer label maps (e.g. ground-truth parsing) -> (N, 1, H, W) float mask of a part."""
    classes = torch.tensor(PART_CLASSES[part], device=labels.device)
    return torch.isin(labels, classes)[:, None].float()

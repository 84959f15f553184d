"""The attribute reader: a small multi-head CNN trained on a synthetic set's ground truth (DESIGN §7).

It reads attributes back from images independently of the text/image encoders the generator trains with.
A reader folder holds `reader.safetensors` (the network) and `reader.json` (families, their values, the
architecture and its own validation accuracy on held-out ground-truth images).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.core.io import manifest_header, staged_folder, write_json_atomic
from pipelines.errors import InvalidInputError
from pipelines.metrics.attributes import (
    DEFAULT_FAMILIES,
    FAMILIES,
    IGNORE,
    accuracy,
    check_families,
    truth_labels,
)

WEIGHTS_FILE = "reader.safetensors"
CONFIG_FILE = "reader.json"
SHIPPED_READER = Path(__file__).resolve().parents[1] / "assets" / "attribute_reader"
"""The reader that ships with the package (see its README.md for how it was trained)."""


@dataclass(frozen=True)
class ReaderConfig:
    """How the attribute reader is built and trained."""

    families: tuple[str, ...] = DEFAULT_FAMILIES
    """Attribute families it predicts (pipelines.metrics.attributes.FAMILIES)."""
    resolution: int = 64
    """Input side: images are resized to it."""
    widths: tuple[int, ...] = (16, 32, 64, 128)
    """Channels of the conv stages; each stage halves the resolution."""
    epochs: int = 30
    """Passes over the training images."""
    batch_size: int = 32
    learning_rate: float = 3e-3
    """Adam's step size, cosine-decayed to 0."""
    validation_fraction: float = 0.15
    """Share of the records held out to measure the reader itself."""
    seed: int = 0
    """Initialisation, split and batch-order seed."""


class AttributeReader(nn.Module):
    """(N, 3, H, W) uint8 images -> logits per family."""

    def __init__(self, families: dict[str, int], resolution: int, widths: Sequence[int]) -> None:
        """families: name -> number of values."""
        super().__init__()
        self.resolution = resolution
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        self.heads = nn.ModuleDict({name: nn.Linear(channels, count) for name, count in families.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """(N, 3, H, W) uint8 -> {family: (N, values) logits}."""
        x = images.float() / 127.5 - 1.0
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True)
        features = self.features(x)
        return {name: head(features) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 64) -> dict[str, Tensor]:
        """(N, 3, H, W) uint8 -> {family: (N,) long value indices} (on the CPU)."""
        self.eval()
        device = next(self.parameters()).device
        chunks: dict[str, list[Tensor]] = {name: [] for name in self.heads}
        for start in range(0, images.shape[0], batch_size):
            logits = self(images[start : start + batch_size].to(device))
            for name, value in logits.items():
                chunks[name].append(value.argmax(dim=1).cpu())
        return {name: torch.cat(values) for name, values in chunks.items()}


@dataclass
class LoadedReader:
    """A reader and its record (reader.json)."""

    network: AttributeReader
    info: dict[str, Any] = field(repr=False)
    path: Path

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.info["families"])


def build_reader(config: ReaderConfig) -> AttributeReader:
    """A freshly initialised reader for `config` (seeded)."""
    check_families(config.families)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return AttributeReader(
            {n: len(FAMILIES[n].values) for n in config.families}, config.resolution, config.widths
        )


def train_reader(
    images: Tensor,
    attributes: Sequence[dict[str, Any]],
    config: ReaderConfig,
    advance: Callable[[int], None] | None = None,
) -> tuple[AttributeReader, dict[str, Any]]:
    """Train a reader on ground-truth images and attributes.

    Args:
        images: (N, 3, H, W) uint8.
        attributes: N attribute dictionaries (a synthetic record's "attributes").
        advance: called with 1 after each epoch.

    Returns:
        the network (in eval mode, on the CPU) and its validation accuracy (see `attributes.accuracy`).
    """
    labels = truth_labels(attributes, config.families)
    order = np.random.default_rng(config.seed).permutation(images.shape[0])
    holdout = (
        max(1, int(round(config.validation_fraction * images.shape[0]))) if config.validation_fraction else 0
    )
    val, train = torch.from_numpy(order[:holdout]), torch.from_numpy(order[holdout:])
    if len(train) < 2:
        raise InvalidInputError("the attribute reader needs at least 2 training images")
    network = build_reader(config)
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global generator: seed it, keep it local
        torch.manual_seed(config.seed)
        _fit(network, images, labels, train, config, advance)
    network.eval()
    scores = accuracy(network.predict(images[val]), {n: v[val] for n, v in labels.items()}) if holdout else {}
    return network, {**scores, "num_train": len(train), "num_validation": holdout}


def _fit(
    network: AttributeReader,
    images: Tensor,
    labels: dict[str, Tensor],
    train: Tensor,
    config: ReaderConfig,
    advance: Callable[[int], None] | None,
) -> None:
    """Adam with a cosine schedule over `config.epochs` passes of the `train` indices."""
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    steps = config.epochs * ((len(train) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        network.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for start in range(0, len(shuffled), config.batch_size):
            batch = shuffled[start : start + config.batch_size]
            if len(batch) < 2:  # batch norm needs two samples
                continue
            logits = network(_augment(images[batch], generator))
            loss = sum(
                F.cross_entropy(logits[n], labels[n][batch], ignore_index=IGNORE)
                for n in config.families
                if (labels[n][batch] != IGNORE).any()
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if advance:
            advance(1)


def _augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """Random horizontal flips and shifts of up to 1/16 of the side (every attribute is flip-invariant)."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    limit = max(1, images.shape[-1] // 16)
    dy, dx = (int(v) for v in torch.randint(-limit, limit + 1, (2,), generator=generator))
    return torch.roll(images, shifts=(dy, dx), dims=(-2, -1))


def save_reader(
    network: AttributeReader, config: ReaderConfig, out: str | Path, extra: dict[str, Any], overwrite: bool
) -> Path:
    """Write a reader folder atomically (reader.safetensors + reader.json)."""
    from safetensors.torch import save_file

    out = Path(out)
    with staged_folder(out, overwrite) as staging:
        state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_FILE))
        info = manifest_header(
            "attribute_reader",
            **{**asdict(config), "families": list(config.families), "widths": list(config.widths)},
            values={n: list(FAMILIES[n].values) for n in config.families},
            **extra,
        )
        write_json_atomic(staging / CONFIG_FILE, info)
    return out


def load_reader(path: str | Path, device: str | torch.device = "cpu") -> LoadedReader:
    """Rebuild a reader from its folder; one-line errors name the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    for file in (config_path, weights_path):
        if not file.is_file():
            raise InvalidInputError(
                f"{file}: missing (not an attribute reader folder; see `tg3dface eval train-reader`)"
            )
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
        families = check_families(info["families"])
        network = AttributeReader(
            {n: len(info["values"][n]) for n in families}, int(info["resolution"]), info["widths"]
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(f"{config_path}: not an attribute reader record ({error})") from error
    for name in families:
        if list(info["values"][name]) != list(FAMILIES[name].values):
            raise InvalidInputError(
                f"{config_path}: values of {name} differ from this version's synthetic world"
            )
    try:
        network.load_state_dict(load_file(weights_path))
    except (SafetensorError, OSError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0]
        raise InvalidInputError(f"{weights_path}: does not match {CONFIG_FILE} ({first})") from error
    return LoadedReader(network.eval().to(device), info, path)


def dataset_images(root: Path, records: Sequence[dict[str, Any]]) -> Tensor:
    """(N, 3, H, W) uint8 ground-truth images of the records of a data set folder."""
    from PIL import Image

    arrays = [np.asarray(Image.open(root / r["image"]).convert("RGB")) for r in records]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def train_reader_on_dataset(
    data: str | Path,
    out: str | Path,
    config: ReaderConfig = ReaderConfig(),
    overwrite: bool = False,
    advance: Callable[[int], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train a reader on every image of a synthetic data set folder and save it; (folder, validation)."""
    from pipelines.data.dataset import read_dataset

    started = time.perf_counter()
    info = read_dataset(data)
    if not info.is_synthetic:
        raise InvalidInputError(
            f"{info.root}: attribute readers train on synthetic data sets (ground-truth attributes)"
        )
    images = dataset_images(info.root, info.records)
    network, validation = train_reader(images, [r["attributes"] for r in info.records], config, advance)
    extra = {
        "data": str(info.root.resolve()),
        "num_images": len(info.records),
        "validation": validation,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return save_reader(network, config, out, extra, overwrite), validation

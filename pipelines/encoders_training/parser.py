"""Train SmallParser on synthetic images and their exact 19-class label maps, and export it as a parser
folder (parser_config.json + parser.safetensors) that `load_parser("local-dir:<folder>")` loads."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core.io import staged_folder
from pipelines.core.parsing import SmallParser, SmallParserConfig, save_parser_folder
from pipelines.encoders_training.checksums import write_checksums
from pipelines.encoders_training.data import (
    SplitData,
    load_split,
    random_affine,
    step_generator,
    to_unit_range,
)
from pipelines.encoders_training.loop import (
    MODEL_DIR,
    EncoderTrainResult,
    LoopConfig,
    ProgressFn,
    prepare_run_dir,
    run_config,
    run_loop,
)


@dataclass(frozen=True)
class ParserTrainConfig(LoopConfig):
    """How the synthetic-domain parser is trained (defaults: the shipped model's recipe)."""

    steps: int = 2000
    """Optimiser steps (2000 x 32 = 3.6 epochs of 18k training images)."""
    batch: int = 32
    """Images per step."""
    lr: float = 2e-3
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.01
    """AdamW weight decay of the convolution kernels."""
    width: int = 16
    """Channels of SmallParser's first level."""
    dice_weight: float = 1.0
    """Weight of the soft Dice term added to the cross-entropy (it lifts the IoU of small parts)."""
    max_shift: float = 0.06
    """Largest random shift, as a fraction of the image side."""
    max_scale: float = 0.06
    """Largest random relative zoom."""


class _SegmentationStep:
    """The loss of one step: cross-entropy + soft Dice on a random batch, moved together with its labels."""

    def __init__(
        self, network: SmallParser, data: SplitData, config: ParserTrainConfig, device: torch.device
    ) -> None:
        self.network, self.data, self.config, self.device = network, data, config, device

    def __call__(self, step: int) -> tuple[Tensor, dict[str, float]]:
        generator = step_generator(self.config.seed, step)
        indices = torch.randint(len(self.data), (self.config.batch,), generator=generator)
        images, labels = random_affine(
            to_unit_range(self.data.images[indices]).to(self.device),
            generator,
            self.config.max_shift,
            self.config.max_scale,
            labels=self.data.labels[indices].to(self.device),
        )
        logits = self.network.logits(images)
        cross_entropy = F.cross_entropy(logits, labels)
        dice = soft_dice_loss(logits, labels)
        loss = cross_entropy + self.config.dice_weight * dice
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {
            "cross_entropy": float(cross_entropy.detach()),
            "dice": float(dice.detach()),
            "pixel_accuracy": float(accuracy),
        }


def soft_dice_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """1 - mean soft Dice over the classes present in the batch's labels.

    Args:
        logits: (N, C, H, W). labels: (N, H, W) integer classes.
    """
    probabilities = logits.softmax(dim=1)
    truth = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).to(probabilities.dtype)
    intersection = (probabilities * truth).sum(dim=(0, 2, 3))
    total = probabilities.sum(dim=(0, 2, 3)) + truth.sum(dim=(0, 2, 3))
    present = truth.sum(dim=(0, 2, 3)) > 0
    return 1.0 - (2 * intersection[present] / total[present]).mean()


def train_parser(
    data: str | Path,
    out: str | Path,
    config: ParserTrainConfig = ParserTrainConfig(),
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "cpu",
) -> EncoderTrainResult:
    """Train on the "train" split of `data` at its own resolution; write the run folder and out/model/.

    Args:
        data: a synthetic dataset folder (exact label maps).
        out: the run folder (see `pipelines.encoders_training.loop`).
        resume: continue from out/state/ when it exists.
        overwrite: start afresh in an existing run folder.
        device: where to train (auto, cpu, cuda or cuda:N).
    """
    from pipelines.core.device import resolve_device

    started = time.perf_counter()
    run_dir = Path(out)
    resuming = prepare_run_dir(run_dir, run_config("parser", Path(data), config), resume, overwrite)
    split = load_split(data, "train", labels=True)
    target = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = SmallParser(width=config.width).to(target)
    step_loss = _SegmentationStep(network, split, config, target)
    step = run_loop(run_dir, network, config, step_loss, resuming, progress, should_stop)
    model_dir = run_dir / MODEL_DIR
    if step == config.steps:
        resolution = split.images.shape[-1]
        described = SmallParserConfig(config.width, resolution, f"synthetic heads, {resolution} px")
        with staged_folder(model_dir, overwrite=True) as staging:
            save_parser_folder(network, described, staging)
            write_checksums(staging)
    return EncoderTrainResult(run_dir, model_dir, step, time.perf_counter() - started)

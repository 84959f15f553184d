"""The run configuration: model, discriminator, optimisation and loss settings, resolved from a preset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.core.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    apply_overrides,
    from_dict,
    load_preset,
    to_dict,
)
from pipelines.errors import InvalidInputError

PARTS = ("hair", "eyes", "mouth", "skin", "eyeglasses", "beard", "accessories")


@dataclass(frozen=True)
class LossConfig:
    """Weights and schedules of every loss term; a weight of 0 switches its term off (ablations)."""

    adversarial: float = 1.0
    """Weight of the non-saturating GAN loss (generator and discriminator)."""
    r1_gamma: float = 1.0
    """R1 gamma on real images (both discriminator inputs)."""
    r1_interval: int = 16
    """Lazy R1: applied every this many steps, scaled by the interval."""
    density: float = 0.25
    """Weight of EG3D's L1 density regularisation."""
    density_interval: int = 4
    """Lazy density regularisation interval."""
    density_points: int = 1000
    """Random points per sample for the density regulariser."""
    density_perturbation: float = 0.004
    """Standard deviation of the perturbed copies, world units."""
    gc: float = 10.0
    """Global contrastive loss: renders (frozen image encoder) vs their captions across the batch."""
    d_contrastive: float = 10.0
    """Discriminator's projected features vs captions (reals in the D step, fakes in the G step)."""
    fine: float = 10.0
    """Fine-grained alignment loss: parsed parts of renders vs their part phrases."""
    temperature: float = 0.5
    """tau of every InfoNCE term."""
    fine_parts: tuple[str, ...] = PARTS
    """Parts used by the fine-grained loss (names of pipelines.core.parsing.PART_CLASSES)."""
    blur_init_sigma: float = 10.0
    """Initial blur (pixels) of the discriminator's image input, faded to 0."""
    blur_fade_kimg: float = 200.0
    """Thousands of images over which the blur fades out."""
    gpc_prob_final: float = 0.5
    """Generator pose-conditioning swap probability after its fade (from 1)."""
    gpc_fade_kimg: float = 1000.0
    """Thousands of images over which the swap probability fades from 1 to its final value."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and bookkeeping."""

    batch: int = 32
    """Global batch size (all processes, all accumulation rounds)."""
    batch_gpu: int = 4
    """Samples per forward pass on one process; the rest is gradient accumulation."""
    g_lr: float = 0.0025
    """Generator Adam learning rate."""
    d_lr: float = 0.002
    """Discriminator Adam learning rate."""
    betas: tuple[float, float] = (0.0, 0.99)
    """Adam betas (StyleGAN's)."""
    ema_kimg: float = 10.0
    """Half-life of the generator EMA, in thousands of images."""
    ema_rampup: float = 0.05
    """EMA ramp-up: the half-life is at most this fraction of the images seen."""
    max_steps: int = 1000
    """Stop after this many steps."""
    log_every: int = 10
    """Steps between train_log.jsonl lines."""
    checkpoint_every: int = 500
    """Steps between checkpoints (and at the end)."""
    keep_checkpoints: int = 3
    """How many recent checkpoints to keep."""
    sample_every: int = 500
    """Steps between sample grids (0 = never)."""
    eval_every: int = 0
    """Steps between evaluations of the EMA generator into metrics.jsonl (0 = never)."""
    eval_metrics: tuple[str, ...] = ("clip", "warp")
    """Metrics of the periodic evaluation (any of `tg3dface eval --metrics`; attr needs eval_reader)."""
    eval_samples: int = 64
    """Samples per periodic evaluation."""
    eval_reader: str | None = None
    """Attribute reader folder for the `attr` metric (`tg3dface eval train-reader`)."""
    seed: int = 0
    """Seed of all randomness; each step's draws derive from (seed, step, micro-batch)."""
    precision: str = "auto"
    """auto (fp32 on CPU, bf16 autocast on CUDA), fp32, or bf16."""
    parser: str = "builtin:tiny-random-parser"
    """The frozen face parser of the fine-grained loss."""
    sample_prompts: tuple[str, ...] = ()
    """Prompts of the sample grids (default: four captions of the data set's test split)."""
    sample_seeds: tuple[int, ...] = (0, 1, 2, 3)
    """Seeds of the sample grids."""
    tensorboard: bool = False
    """Also write the logged scalars to RUN/tensorboard (needs the `tensorboard` package)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run depends on; `train --config RUN/config.json` reproduces it."""

    preset: str = "tiny"
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def validate(self) -> None:
        """Raise InvalidInputError when settings cannot work together."""
        self.generator.validate()
        train = self.train
        if train.batch < 1 or train.batch_gpu < 1 or train.batch % train.batch_gpu:
            raise InvalidInputError(
                f"train.batch={train.batch} must be a positive multiple of train.batch_gpu={train.batch_gpu}"
            )
        if train.precision not in ("auto", "fp32", "bf16"):
            raise InvalidInputError(f"train.precision={train.precision!r}: expected auto, fp32 or bf16")
        from pipelines.core.parsing import PART_CLASSES

        unknown = sorted(set(self.loss.fine_parts) - set(PART_CLASSES))
        if unknown:
            raise InvalidInputError(f"loss.fine_parts: unknown part(s) {', '.join(unknown)}")
        if self.loss.r1_interval < 1 or self.loss.density_interval < 1:
            raise InvalidInputError("loss.r1_interval and loss.density_interval must be at least 1")


def resolve_run_config(
    preset: str, overrides: list[str] | None = None, base: dict[str, Any] | None = None
) -> RunConfig:
    """A preset's sections (or a saved config `base`) plus `--set section.field=value` overrides."""
    data = base if base is not None else load_preset(preset)
    data = apply_overrides(data, overrides or [])
    data["preset"] = data.get("preset", preset)
    data.setdefault("generator", {})["preset"] = data["preset"]
    config = from_dict(RunConfig, data, where=f"preset {preset}")
    config.validate()
    return config


def run_config_dict(config: RunConfig) -> dict[str, Any]:
    """Plain JSON-ready data of a run configuration."""
    return to_dict(config)

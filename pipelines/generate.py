"""The `generate` stage: prompts + seeds -> sample bundles (DESIGN §3.4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipelines import DEMO_MODEL
from pipelines.core.bundle import RANDOM_PREFIX, load_generator, model_record, random_generator
from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.guidance import GuidanceConfig, guide_from_neutral
from pipelines.core.inputs import slugify
from pipelines.core.io import manifest_header, staged_folder, write_json_atomic
from pipelines.core.samples import Latent, SampleOutputs, write_sample_batch
from pipelines.errors import InvalidInputError

RANDOM_TEXT_ENCODER = "builtin:tiny-random"
"""Randomly initialised models are conditioned on this encoder, which needs no weights."""

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate and where."""

    prompts: tuple[str, ...]
    """Text prompts; every prompt is generated with every seed."""
    out: Path
    """The output folder (a sample bundle set with its manifest.json)."""
    model: str = DEMO_MODEL
    """A model bundle folder, `builtin:demo` (the shipped synthetic-world model), or `random:PRESET` for a
    seeded, randomly initialised network."""
    seeds: tuple[int, ...] = (0,)
    """Per-sample seeds: z comes from a CPU torch.Generator seeded with each."""
    truncation: float = 1.0
    """Truncation psi toward the prompt's average w (1 = none)."""
    outputs: SampleOutputs = field(default_factory=SampleOutputs)
    """Files written per sample."""
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    """Directional CLIP guidance from the neutral prompt toward each prompt (steps 0 = off)."""
    batch_size: int = 4
    """Samples mapped and rendered together."""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N."""
    model_seed: int = 0
    """Initialisation seed of `random:` models."""
    model_overrides: tuple[str, ...] = ()
    """`--set` overrides applied to a `random:` model's preset."""
    weights_dir: str | None = None
    """Where local encoder weights live (default: TG3DFACE_HOME or ~/.cache/tg3dface)."""
    overwrite: bool = False
    """Replace an existing, non-empty output folder."""


@dataclass
class GenerateResult:
    """What the stage wrote."""

    out: Path
    manifest: Path
    items: list[dict[str, Any]]
    files: list[Path]
    model_is_random: bool
    elapsed_s: float


def load_model(
    spec: str, device: torch.device, seed: int = 0, overrides: tuple[str, ...] = ()
) -> TriPlaneGenerator:
    """A bundle folder or `random:PRESET` -> a generator in eval mode on `device`."""
    if spec.startswith(RANDOM_PREFIX):
        encoder = load_encoder(RANDOM_TEXT_ENCODER)
        preset = spec[len(RANDOM_PREFIX) :]
        return random_generator(preset, seed, RANDOM_TEXT_ENCODER, encoder.embed_dim, list(overrides)).to(
            device
        )
    if overrides:
        raise InvalidInputError(
            "--set only applies to random: models (a bundle's config.json defines its network)"
        )
    return load_generator(spec, device)


def sample_z(seed: int, z_dim: int) -> torch.Tensor:
    """(1, z_dim) standard normal z from a CPU generator, so every device sees the same latent."""
    return torch.randn(1, z_dim, generator=torch.Generator().manual_seed(seed))


def generate(config: GenerateConfig, progress: ProgressFn | None = None) -> GenerateResult:
    """Generate every (prompt, seed) pair into a sample bundle set under `config.out`.

    The set is built in a temporary folder beside `config.out` and moved into place at the end, so an
    interrupted run leaves nothing partial and an existing folder survives until the new one is complete.
    """
    started = time.perf_counter()
    _check_config(config)
    device = resolve_device(config.device)
    generator = load_model(config.model, device, config.model_seed, config.model_overrides)
    encoder = load_encoder(generator.config.text_encoder, device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, encoder.encoder_id, config.model)
    out = Path(config.out)
    model_random = config.model.startswith(RANDOM_PREFIX)
    with staged_folder(out, config.overwrite) as staging, torch.no_grad():
        text = encoder.encode_text(list(config.prompts)).float()
        w_avg = generator.mean_w(text) if config.truncation != 1.0 else None
        record = model_record(config.model)
        items = _generate_all(generator, encoder, config, record["model"], text, w_avg, staging, progress)
        files = [Path(f) for item in items for f in item["files"]]
        manifest = manifest_header(
            "samples",
            **record,
            model_config=to_dict(generator.config),
            text_encoder=encoder.encoder_id,
            device=str(device),
            params=_params(config),
            items=items,
        )
        write_json_atomic(staging / "manifest.json", manifest)
    files = [out / f for f in files] + [out / "manifest.json"]
    return GenerateResult(
        out, out / "manifest.json", items, files, model_random, time.perf_counter() - started
    )


def _generate_all(
    generator: TriPlaneGenerator,
    encoder,
    config: GenerateConfig,
    model_name: str,
    text: torch.Tensor,
    w_avg: torch.Tensor | None,
    staging: Path,
    progress: ProgressFn | None,
) -> list[dict[str, Any]]:
    """Map (and guide), render and write every (prompt, seed) pair in batches; returns manifest items.

    `model_name` is how latents record the model (see `model_record`), so `edit` finds it from anywhere.
    """
    device = text.device
    pairs = [(p, s) for p in range(len(config.prompts)) for s in config.seeds]
    names = _sample_names(config.prompts, config.seeds)
    frontal = generator.frontal_camera(1)
    neutral = encoder.encode_text([config.guidance.neutral_prompt]).float() if config.guidance.steps else None
    items = []
    for start in range(0, len(pairs), config.batch_size):
        batch = pairs[start : start + config.batch_size]
        z = torch.cat([sample_z(seed, generator.config.mapping.z_dim) for _, seed in batch]).to(device)
        prompt_index = torch.tensor([p for p, _ in batch], device=device)
        batch_text = text[prompt_index]
        batch_avg = None if w_avg is None else w_avg[prompt_index]
        camera = frontal.expand(len(batch), -1)
        ws = generator.map(z, camera, batch_text, config.truncation, batch_avg)
        if neutral is not None:
            ws = guide_from_neutral(
                generator, encoder, z, camera, batch_text, ws, neutral, config.guidance, config.truncation
            )
        latents = [
            Latent(
                ws=ws[i : i + 1],
                text_embedding=batch_text[i : i + 1],
                camera=frontal,
                z=z[i : i + 1],
                info={
                    "prompt": config.prompts[prompt_id],
                    "seed": seed,
                    "truncation": config.truncation,
                    "space": "w+" if config.guidance.steps and config.guidance.space == "w+" else "w",
                    "guidance": to_dict(config.guidance) if config.guidance.steps else None,
                    "model": model_name,
                    "model_seed": config.model_seed,
                    "text_encoder": generator.config.text_encoder,
                    "source": "generate",
                },
            )
            for i, (prompt_id, seed) in enumerate(batch)
        ]
        batch_names = names[start : start + len(batch)]
        items.extend(write_sample_batch(staging, generator, latents, batch_names, config.outputs))
        if progress:
            progress(len(batch))
    return items


def _sample_names(prompts: tuple[str, ...], seeds: tuple[int, ...]) -> list[str]:
    """'<slug>-seed<S>' per (prompt, seed), made unique when two prompts share a slug."""
    names, used = [], set()
    for prompt in prompts:
        slug = slugify(prompt)
        base, suffix = slug, 2
        while base in used:
            base, suffix = f"{slug}-{suffix}", suffix + 1
        used.add(base)
        names.extend(f"{base}-seed{seed}" for seed in seeds)
    return names


def _params(config: GenerateConfig) -> dict[str, Any]:
    """The generation parameters recorded in the manifest."""
    outputs = to_dict(config.outputs)
    return {
        "seeds": list(config.seeds),
        "truncation": config.truncation,
        "batch_size": config.batch_size,
        "model_seed": config.model_seed if config.model.startswith(RANDOM_PREFIX) else None,
        "model_overrides": list(config.model_overrides),
        "guidance": to_dict(config.guidance),
        **outputs,
    }


def _check_config(config: GenerateConfig) -> None:
    """Reject impossible requests before any work is done."""
    if not config.prompts:
        raise InvalidInputError(
            "no prompts given (pass them as arguments, --prompts-file FILE, or - for stdin)"
        )
    if any(not p.strip() for p in config.prompts):
        raise InvalidInputError("empty prompt")
    if not config.seeds:
        raise InvalidInputError("no seeds given")
    if config.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    if not config.outputs.views:
        raise InvalidInputError("--views gave no views")
    if config.outputs.mesh not in (None, "ply", "obj", "glb"):
        raise InvalidInputError(f"--mesh {config.outputs.mesh!r}: expected ply, obj or glb")
    if config.outputs.video not in (None, "mp4", "gif"):
        raise InvalidInputError(f"--video-format {config.outputs.video!r}: expected mp4 or gif")
    if not 0.0 <= config.truncation <= 1.0:
        raise InvalidInputError(f"--truncation {config.truncation}: expected a value in [0, 1]")

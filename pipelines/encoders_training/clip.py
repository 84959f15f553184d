"""Train a small open_clip model contrastively on synthetic image–caption pairs, and export it in
open_clip's local-folder format (open_clip_config.json + open_clip_model.safetensors)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from pipelines.core.encoders import SYNTHETIC_MODEL_NAME, ClipImagePreprocess
from pipelines.core.io import staged_folder, write_with
from pipelines.core.losses import contrastive_loss
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
from pipelines.encoders_training.negatives import hard_negatives
from pipelines.encoders_training.short_captions import short_captions
from pipelines.errors import InvalidInputError

CONFIG_NAME = "open_clip_config.json"
WEIGHTS_NAME = "open_clip_model.safetensors"
MAX_LOGIT_SCALE = 4.6052
"""ln(100): CLIP's cap on the learned inverse temperature."""
TEXT_LENGTH_BUCKETS = 4
"""Texts are encoded in this many groups of similar token length, each cut to its longest text."""


@dataclass(frozen=True)
class ClipTrainConfig(LoopConfig):
    """How the synthetic-domain CLIP is trained (defaults: the shipped model's recipe)."""

    steps: int = 3600
    """Optimiser steps (3600 x 128 = 25.6 epochs of 18k training images)."""
    model: str = SYNTHETIC_MODEL_NAME
    """open_clip architecture name (bundled ones live in pipelines/assets/open_clip/)."""
    max_shift: float = 0.06
    """Largest random shift, as a fraction of the image side."""
    max_scale: float = 0.06
    """Largest random relative zoom."""
    short_captions: float = 0.5
    """Share of the texts that are short one-attribute captions (`short_captions.short_captions`) instead
    of one of the record's captions."""
    negatives_per_text: int = 2
    """Attribute-swapped versions of each text added as extra negatives (`negatives.hard_negatives`)."""
    store_fp16: bool = True
    """Store the exported weights as float16 (half the size; they load into a float32 model)."""


class TrueTexts:
    """Which texts are true of which images of a split: each image's own captions and, when short captions
    are in use, all of its short captions (both cached per image)."""

    def __init__(self, data: SplitData, short_captions: bool) -> None:
        self.data, self.short_captions = data, short_captions
        self._shorts: dict[int, list[tuple[str, dict[str, str]]]] = {}
        self._texts: dict[int, set[str]] = {}

    def shorts(self, index: int) -> list[tuple[str, dict[str, str]]]:
        """The short captions of image `index` with the {part: phrase} each mentions (`short_captions`)."""
        if index not in self._shorts:
            self._shorts[index] = short_captions(self.data.attributes[index])
        return self._shorts[index]

    def of(self, index: int) -> set[str]:
        """The texts true of image `index`."""
        if index not in self._texts:
            shorts = self.shorts(index) if self.short_captions else []
            self._texts[index] = set(self.data.captions[index]) | {text for text, _ in shorts}
        return self._texts[index]

    def mask(self, indices: list[int], texts: list[str]) -> Tensor:
        """(B, T) bool: text t is true of image indices[b]. A short caption fits many people and two people
        can share a caption, so such a text is a positive of each of them, never a negative."""
        return torch.tensor([[text in self.of(i) for text in texts] for i in indices])


class ContrastiveStep:
    """The loss of one step: a batch of images, one random text each (a record caption or a short caption),
    plus attribute-swapped hard negatives, and symmetric InfoNCE in which every text true of an image is a
    positive of it."""

    def __init__(
        self, model: nn.Module, tokenizer, data: SplitData, config: ClipTrainConfig, device: torch.device
    ) -> None:
        self.model, self.tokenizer, self.data, self.config = model, tokenizer, data, config
        self.device = device
        self.preprocess = ClipImagePreprocess(model.visual.preprocess_cfg).to(device)
        self._epoch: tuple[int, Tensor] = (-1, torch.empty(0))
        self.truth = TrueTexts(data, short_captions=config.short_captions > 0)

    def _indices(self, step: int) -> Tensor:
        """(B,) image indices: consecutive slices of one fixed permutation per epoch."""
        count = len(self.data)
        positions = step * self.config.batch + torch.arange(self.config.batch)
        indices = torch.empty_like(positions)
        for epoch in positions.div(count, rounding_mode="floor").unique().tolist():
            if self._epoch[0] != epoch:
                order = torch.randperm(count, generator=step_generator(self.config.seed, -1 - epoch))
                self._epoch = (epoch, order)
            here = positions.div(count, rounding_mode="floor") == epoch
            indices[here] = self._epoch[1][positions[here] % count]
        return indices

    def __call__(self, step: int) -> tuple[Tensor, dict[str, float]]:
        generator = step_generator(self.config.seed, step)
        indices = self._indices(step).tolist()
        texts = self._texts(indices, generator)
        captions = [text for text, _ in texts]
        images, _ = random_affine(
            to_unit_range(self.data.images[indices].to(self.device)),
            generator,
            self.config.max_shift,
            self.config.max_scale,
        )
        negatives = self._hard_negatives(indices, texts, generator)
        image_features = self.model.encode_image(self.preprocess(images))
        text_features = encode_text_trimmed(self.model, self.tokenizer(captions + negatives).to(self.device))
        logit_scale = self.model.logit_scale.clamp(max=MAX_LOGIT_SCALE)
        positives = self.truth.mask(indices, captions + negatives)
        loss = contrastive_loss(
            image_features, text_features, torch.exp(-logit_scale), positives=positives.to(self.device)
        )
        return loss, {"loss": float(loss.detach()), "logit_scale": float(logit_scale.detach().exp())}

    def _texts(self, indices: list[int], generator: torch.Generator) -> list[tuple[str, dict[str, str]]]:
        """The text of each image and the {part: phrase} it mentions: a record caption, or a short caption
        about a part drawn uniformly (so glasses and beards come up as often as hair)."""
        short = (torch.rand(len(indices), generator=generator) < self.config.short_captions).tolist()
        choices = torch.rand(len(indices), 2, generator=generator).tolist()
        texts = []
        for i, is_short, (first, second) in zip(indices, short, choices, strict=True):
            if not is_short:
                k = int(first * len(self.data.captions[i]))
                texts.append((self.data.captions[i][k], self.data.parts[i][k]))
                continue
            options = self.truth.shorts(i)
            parts = list(dict.fromkeys(next(iter(p)) for _, p in options))
            part = parts[int(first * len(parts))]
            options = [option for option in options if part in option[1]]
            texts.append(options[int(second * len(options))])
        return texts

    def _hard_negatives(
        self, indices: list[int], texts: list[tuple[str, dict[str, str]]], generator: torch.Generator
    ) -> list[str]:
        """Attribute-swapped versions of each text (`negatives_per_text` of them where it can)."""
        limit = self.config.negatives_per_text
        return [
            negative
            for i, (text, parts) in zip(indices, texts, strict=True)
            for negative in hard_negatives(self.data.attributes[i], text, parts, generator, limit)
        ]


def encode_text_trimmed(model: nn.Module, tokens: Tensor, buckets: int = TEXT_LENGTH_BUCKETS) -> Tensor:
    """`model.encode_text(tokens)` computed without the padding: texts are sorted by length into `buckets`
    groups, each cut after its longest text.

    Exact for open_clip's causal text tower pooled at the end-of-text token: no position attends to the
    padding after it. Most training texts are short captions of about 10 of the 48 tokens, so this does a
    fraction of the text tower's work (7x less on a batch of short captions). Other towers fall back to
    `encode_text`.

    Args:
        tokens: (T, context) int token ids, 0-padded (open_clip's tokenizer).
    Returns:
        (T, D) unnormalised text features.
    """
    if getattr(model, "text_pool_type", None) != "argmax" or getattr(model, "attn_mask", None) is None:
        return model.encode_text(tokens)
    lengths = (tokens != 0).sum(dim=1)
    features = None
    for group in lengths.argsort().chunk(buckets):
        length = int(lengths[group].max())
        text = tokens[group, :length]
        x = model.token_embedding(text) + model.positional_embedding[:length]
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:length, :length]))
        x = x[torch.arange(len(group), device=x.device), text.argmax(dim=-1)]
        projection = model.text_projection
        x = projection(x) if isinstance(projection, nn.Linear) else x @ projection
        if features is None:
            features = x.new_empty(tokens.shape[0], x.shape[1])
        features[group] = x
    return features


def check_attributes(split: SplitData, config: ClipTrainConfig, data: str | Path) -> None:
    """Short captions and hard negatives are built from each record's true attributes, which only
    synthetic datasets have.

    Raises:
        InvalidInputError: they are asked for and a record has no attributes.
    """
    if (config.short_captions > 0 or config.negatives_per_text > 0) and not all(split.attributes):
        raise InvalidInputError(
            f"{data}: records have no attributes (not a `prepare synthetic` dataset); short captions and "
            "hard negatives need them, pass --short-captions 0 --negatives 0 to train on the captions alone"
        )


def build_clip(model_name: str, seed: int) -> tuple[nn.Module, object]:
    """A randomly initialised open_clip model (seeded, global RNG untouched) and its tokenizer."""
    import open_clip

    from pipelines.core.encoders import quiet_root_logger, register_builtin_configs

    register_builtin_configs()
    with torch.random.fork_rng(devices=[]), quiet_root_logger():
        torch.manual_seed(seed)
        model = open_clip.create_model(model_name, pretrained=None)
    return model, open_clip.get_tokenizer(model_name)


def train_clip(
    data: str | Path,
    out: str | Path,
    config: ClipTrainConfig = ClipTrainConfig(),
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "cpu",
) -> EncoderTrainResult:
    """Train on the "train" split of `data`; write the run folder `out` and its exported model.

    Args:
        data: a synthetic dataset folder (built without --holdout, so every attribute value is learned).
        out: the run folder (see `pipelines.encoders_training.loop`); the model lands in out/model/.
        resume: continue from out/state/ when it exists.
        overwrite: start afresh in an existing run folder.
        device: where to train (auto, cpu, cuda or cuda:N).
    """
    from pipelines.core.device import resolve_device

    started = time.perf_counter()
    run_dir = Path(out)
    resuming = prepare_run_dir(run_dir, run_config("clip", Path(data), config), resume, overwrite)
    model, tokenizer = build_clip(config.model, config.seed)
    target = resolve_device(device)
    model.to(target)
    size = model.visual.image_size  # an int for ResNet towers, (h, w) for ViTs
    split = load_split(data, "train", max_resolution=size if isinstance(size, int) else size[0])
    check_attributes(split, config, data)
    step_loss = ContrastiveStep(model, tokenizer, split, config, target)
    step = run_loop(run_dir, model, config, step_loss, resuming, progress, should_stop)
    model_dir = run_dir / MODEL_DIR
    if step == config.steps:
        export_clip(model, config.model, model_dir, config.store_fp16)
    return EncoderTrainResult(run_dir, model_dir, step, time.perf_counter() - started)


def export_clip(model: nn.Module, model_name: str, folder: Path, fp16: bool) -> Path:
    """Write `model` as an open_clip local folder (loadable with 'local-dir:<folder>') plus SHA256SUMS."""
    import open_clip
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file

    dtype = torch.float16 if fp16 else torch.float32
    weights = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    with staged_folder(folder, overwrite=True) as staging:
        write_with(
            staging / CONFIG_NAME,
            lambda path: save_config_for_hf(model, path, open_clip.get_model_config(model_name)),
        )
        save_file(weights, staging / WEIGHTS_NAME)
        write_checksums(staging)
    return folder

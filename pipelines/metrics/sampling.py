"""Which prompts, cameras and latents an evaluation uses: drawn from a data set split, fixed by a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pipelines.data.dataset import DatasetInfo
from pipelines.errors import InvalidInputError


@dataclass(frozen=True)
class EvalPrompt:
    """One generated sample of an evaluation: a caption and camera from a record, and a latent seed."""

    record: int
    """Index of the record in `DatasetInfo.records`."""
    caption: int
    """Index of the caption in the record's captions."""
    text: str
    """The caption."""
    camera: tuple[float, ...]
    """The record's 25-float camera label (the sample is rendered from it)."""
    seed: int
    """Seed of the sample's z (`pipelines.generate.sample_z`)."""


def draw_prompts(info: DatasetInfo, split: str, count: int, seed: int) -> list[EvalPrompt]:
    """`count` samples whose caption and camera come from records of `split`.

    Records are drawn without replacement while they last (then with), captions uniformly, from numpy's
    default_rng([seed, split]); the i-th sample's z seed is seed + i. So the list depends on the seed only.

    Raises:
        InvalidInputError: the split has no records.
    """
    records = [index for index, record in enumerate(info.records) if record["split"] == split]
    if not records:
        raise InvalidInputError(f"{info.root}: the {split!r} split has no records to take prompts from")
    rng = np.random.default_rng([seed, *split.encode()])
    picks = rng.choice(len(records), size=count, replace=count > len(records))
    prompts = []
    for i, pick in enumerate(picks):
        record = info.records[records[int(pick)]]
        caption = int(rng.integers(len(record["captions"])))
        prompts.append(
            EvalPrompt(
                records[int(pick)], caption, record["captions"][caption], tuple(record["camera"]), seed + i
            )
        )
    return prompts


def draw_records(info: DatasetInfo, count: int, seed: int, split: str | None = None) -> list[int]:
    """Indices of up to `count` distinct records (of `split`, or of all), drawn with a fixed seed, sorted."""
    pool = [i for i, r in enumerate(info.records) if split is None or r["split"] == split]
    rng = np.random.default_rng([seed, 1])
    return sorted(int(i) for i in rng.choice(pool, size=min(count, len(pool)), replace=False)) if pool else []


def derangement(count: int, seed: int) -> Tensor:
    """(count,) a permutation without fixed points (count >= 2): each item's partner in shuffled pairs."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    partner = torch.empty_like(order)
    partner[order] = order.roll(-1)
    return partner

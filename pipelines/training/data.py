"""The training split of a dataset folder in memory, and the per-step draws from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.errors import InvalidInputError


@dataclass
class Batch:
    """One micro-batch of conditions (and real images when drawn from reals).

    images: (B, 3, R, R) in [-1, 1]; camera: (B, 25); text: (B, D) caption features; caption_ids: (B,) ids
    equal for equal captions; parts: part name -> (rows, phrase features (K, D), phrase ids (K,)).
    """

    images: Tensor
    camera: Tensor
    text: Tensor
    caption_ids: Tensor
    parts: dict[str, tuple[Tensor, Tensor, Tensor]]


class TrainingSet:
    """Images, cameras, captions and part phrases of one split, with their text features.

    Text features come from the dataset's cache when it was made with `encoder`, else they are computed
    once here with `encoder`.
    """

    def __init__(self, root: str | Path, resolution: int, encoder, split: str = "train", log=None) -> None:
        from pipelines.data.dataset import read_dataset

        info = read_dataset(root)
        records = info.split(split)
        if not records:
            raise InvalidInputError(f"{root}: the {split} split is empty")
        self.root = Path(root)
        self.images = torch.from_numpy(np.stack([info.load_image(r) for r in records])).permute(0, 3, 1, 2)
        if self.images.shape[-1] != resolution:
            resized = F.interpolate(self.images.float(), size=(resolution, resolution), mode="area")
            self.images = resized.round().clamp(0, 255).to(torch.uint8)
        self.cameras = torch.tensor([r["camera"] for r in records], dtype=torch.float32)
        self.captions: list[list[str]] = [r["captions"] for r in records]
        self.parts: list[list[dict[str, str]]] = [r["parts"] for r in records]
        texts = sorted(
            {t for caps in self.captions for t in caps}
            | {p for ps in self.parts for d in ps for p in d.values()}
        )
        self.text_row = {text: i for i, text in enumerate(texts)}
        self.text_features = self._text_features(texts, encoder, log)

    def __len__(self) -> int:
        return self.images.shape[0]

    def _text_features(self, texts: list[str], encoder, log) -> Tensor:
        """(T, D) features of `texts` in order, from the dataset cache when it matches the encoder."""
        from pipelines.data.text_cache import CACHE_FILE, TextCache

        if (self.root / CACHE_FILE).is_file():
            cache = TextCache.open(self.root)
            if cache.encoder_id == encoder.encoder_id:
                return cache.lookup(texts).float()
            if log:
                log(f"text cache was made with {cache.encoder_id}, not {encoder.encoder_id}: re-encoding")
        with torch.no_grad():
            return torch.cat(
                [encoder.encode_text(texts[i : i + 256]).float().cpu() for i in range(0, len(texts), 256)]
            )

    def draw(
        self, count: int, generator: torch.Generator, parts: tuple[str, ...], device: torch.device
    ) -> Batch:
        """`count` random records, each with one random caption (and that caption's part phrases)."""
        index = torch.randint(len(self), (count,), generator=generator)
        choice = torch.randint(1 << 30, (count,), generator=generator)
        captions, part_rows = [], {p: ([], []) for p in parts}
        for row, (i, c) in enumerate(zip(index.tolist(), choice.tolist(), strict=True)):
            k = c % len(self.captions[i])
            captions.append(self.captions[i][k])
            for part, phrase in self.parts[i][k].items():
                if part in part_rows:
                    part_rows[part][0].append(row)
                    part_rows[part][1].append(self.text_row[phrase])
        caption_rows = torch.tensor([self.text_row[c] for c in captions])
        part_tensors = {
            part: (
                torch.tensor(rows, dtype=torch.long, device=device),
                self.text_features[torch.tensor(ids, dtype=torch.long)].to(device),
                torch.tensor(ids, dtype=torch.long, device=device),
            )
            for part, (rows, ids) in part_rows.items()
            if rows
        }
        return Batch(
            images=(self.images[index].float() / 127.5 - 1).to(device),
            camera=self.cameras[index].to(device),
            text=self.text_features[caption_rows].to(device),
            caption_ids=caption_rows.to(device),
            parts=part_tensors,
        )

    def test_captions(self, count: int) -> list[str]:
        """`count` distinct first captions, in record order (default sample-grid prompts)."""
        seen: list[str] = []
        for caps in self.captions:
            if caps[0] not in seen:
                seen.append(caps[0])
            if len(seen) == count:
                break
        return seen

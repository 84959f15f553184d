"""Score the encoders on held-out synthetic images: CLIP zero-shot attribute accuracy and retrieval, parser
mean IoU. The attribute families and their prompts are fixed here, so figures are comparable across runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.encoders_training.data import SplitData, load_split, to_unit_range
from pipelines.metrics.clip_score import encode_images

RETRIEVAL_BATCH = 64
"""Image→caption retrieval is scored within batches of this many images (chance 1/64)."""
CHUNK = 256


@dataclass(frozen=True)
class Family:
    """One attribute family of the zero-shot test: a class per value, each described by one or more prompts
    (their features are averaged), scored on the people `applies` accepts."""

    attribute: str
    """The record attribute holding the true value."""
    prompts: dict[Any, tuple[str, ...]]
    """Attribute value -> prompts describing it."""
    applies: Callable[[dict[str, Any]], bool] = lambda attributes: True
    """Which people the family is scored on (e.g. beards on men only)."""


def _each(values: tuple[str, ...], template: str) -> dict[Any, tuple[str, ...]]:
    return {value: (template.format(value),) for value in values}


def zero_shot_families() -> dict[str, Family]:
    """The attribute families of the zero-shot test, with prompts like "a person with red hair"."""
    from pipelines.data.synthetic.attributes import EYE_COLORS, HAIR_COLORS, SKIN_TONES

    return {
        "hair_color": Family(
            "hair_color",
            _each(HAIR_COLORS, "a person with {} hair"),
            lambda a: a["hair_length"] != "bald",  # no head hair to see
        ),
        "hair_length": Family(
            "hair_length",
            {
                "bald": ("a person with a bald head",),
                "short": ("a person with short hair",),
                "medium": ("a person with shoulder-length hair",),
                "long": ("a person with long hair",),
            },
        ),
        "eye_color": Family("eye_color", _each(EYE_COLORS, "a person with {} eyes")),
        "glasses": Family(
            "eyewear",
            {
                "none": ("a person with no glasses",),
                "eyeglasses": ("a person wearing eyeglasses",),
                "sunglasses": ("a person wearing sunglasses",),
            },
        ),
        "beard": Family(
            "beard",
            {
                True: ("a man with a full beard", "a man with a beard and a mustache"),
                False: ("a clean-shaven man", "a man with a mustache"),
            },
            lambda a: a["gender"] == "male",
        ),
        "smile": Family(
            "smiling",
            {True: ("a person who is smiling",), False: ("a person who is not smiling",)},
        ),
        "gender": Family("gender", {"female": ("a photo of a woman",), "male": ("a photo of a man",)}),
        "skin_tone": Family("skin_tone", _each(SKIN_TONES, "a person with {} skin")),
    }


def zero_shot_accuracy(encoder, features: Tensor, attributes: list[dict[str, Any]], family: Family) -> dict:
    """Accuracy (and class-balanced accuracy) of picking the true value's prompts among the family's
    (None when no image of the split belongs to the family).

    Args:
        features: (N, D) unit-norm image features of the people described by `attributes`.
    """
    values = list(family.prompts)
    classes = torch.stack(
        [F.normalize(encoder.encode_text(list(family.prompts[v])).cpu().mean(0), dim=0) for v in values]
    )
    rows = [i for i, a in enumerate(attributes) if family.applies(a)]
    chance = round(1 / len(values), 4)
    if not rows:
        return {"accuracy": None, "balanced_accuracy": None, "chance": chance, "num_images": 0}
    truth = torch.tensor([values.index(attributes[i][family.attribute]) for i in rows])
    predicted = (features[rows] @ classes.t()).argmax(dim=1)
    recalls = [
        float((predicted[truth == c] == c).float().mean()) for c in range(len(values)) if (truth == c).any()
    ]
    return {
        "accuracy": round(float((predicted == truth).float().mean()), 4),
        "balanced_accuracy": round(sum(recalls) / len(recalls), 4),
        "chance": chance,
        "num_images": len(rows),
    }


def retrieval_top1(encoder, features: Tensor, captions: list[list[str]]) -> float | None:
    """Image→caption top-1 accuracy within consecutive batches of RETRIEVAL_BATCH images.

    Image i is paired with its caption number i mod (its caption count), so all templates are scored.
    None when the split has fewer than RETRIEVAL_BATCH images.
    """
    hits, total = 0, 0
    for start in range(0, features.shape[0] - RETRIEVAL_BATCH + 1, RETRIEVAL_BATCH):
        rows = range(start, start + RETRIEVAL_BATCH)
        texts = encoder.encode_text([captions[i][i % len(captions[i])] for i in rows]).cpu()
        predicted = (features[start : start + RETRIEVAL_BATCH] @ texts.t()).argmax(dim=1)
        hits += int((predicted == torch.arange(RETRIEVAL_BATCH)).sum())
        total += RETRIEVAL_BATCH
    return round(hits / total, 4) if total else None


def evaluate_clip(encoder, split: SplitData) -> dict[str, Any]:
    """Zero-shot accuracy per attribute family and image→caption retrieval on one split."""
    features = encode_images(encoder, split.images, CHUNK)
    return {
        "zero_shot": {
            name: zero_shot_accuracy(encoder, features, split.attributes, family)
            for name, family in zero_shot_families().items()
        },
        "retrieval_top1_in_64": retrieval_top1(encoder, features, split.captions),
        "retrieval_chance": round(1 / RETRIEVAL_BATCH, 4),
    }


def evaluate_parser(parser, split: SplitData) -> dict[str, Any]:
    """Per-class IoU over the whole split (argmax labels), their mean over the classes present in the truth,
    and pixel accuracy."""
    from pipelines.data.labels import PARSING_CLASSES

    count = len(PARSING_CLASSES)
    intersection, union, present = torch.zeros(count), torch.zeros(count), torch.zeros(count)
    correct = 0
    device = next(parser.parameters()).device
    with torch.no_grad():
        for i in range(0, len(split), CHUNK):
            truth = split.labels[i : i + CHUNK].long()
            predicted = parser(to_unit_range(split.images[i : i + CHUNK]).to(device)).argmax(dim=1).cpu()
            correct += int((predicted == truth).sum())
            for c in range(count):
                p, t = predicted == c, truth == c
                intersection[c] += (p & t).sum()
                union[c] += (p | t).sum()
                present[c] += t.sum()
    iou = {
        PARSING_CLASSES[c]: round(float(intersection[c] / union[c]), 4) for c in range(count) if present[c]
    }
    return {
        "mean_iou": round(sum(iou.values()) / len(iou), 4),
        "pixel_accuracy": round(correct / split.labels.numel(), 4),
        "iou": iou,
    }


@dataclass(frozen=True)
class EvalRequest:
    """What `tg3dface encoders evaluate` scores."""

    data: Path
    """A synthetic dataset folder."""
    split: str = "test"
    """The split to score (held out from the encoders' training)."""
    clip: str | None = None
    """An encoder spec to score, or None."""
    parser: str | None = None
    """A parser spec to score, or None."""
    limit: int = 0
    """Score only the first `limit` images of the split (0: all)."""
    device: str = "cpu"
    """auto, cpu, cuda or cuda:N."""
    weights_dir: Path | None = None
    """The weights folder (for tags and facexlib:bisenet)."""


def evaluate_encoders(request: EvalRequest) -> dict[str, Any]:
    """Score the requested encoder and/or parser; returns the report (results + what was scored)."""
    from pipelines.core.device import resolve_device
    from pipelines.core.encoders import load_encoder
    from pipelines.core.parsing import load_parser

    started = time.perf_counter()
    device = resolve_device(request.device)
    split = load_split(request.data, request.split, labels=request.parser is not None, limit=request.limit)
    results: dict[str, Any] = {}
    if request.clip is not None:
        encoder = load_encoder(request.clip, device, request.weights_dir)
        results["clip"] = {"encoder_id": encoder.encoder_id, **evaluate_clip(encoder, split)}
    if request.parser is not None:
        parser = load_parser(request.parser, device, request.weights_dir)
        results["parser"] = {"parser_id": parser.parser_id, **evaluate_parser(parser, split)}
    return {
        "kind": "encoder_metrics",
        "data": str(Path(request.data).resolve()),
        "split": request.split,
        "num_images": len(split),
        "device": str(device),
        "results": results,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def format_report(report: dict[str, Any]) -> str:
    """A human-readable summary of `evaluate_encoders`' report."""
    lines = [f"{report['num_images']} images of {report['data']} ({report['split']})"]
    clip = report["results"].get("clip")
    if clip:
        lines.append(f"CLIP {clip['encoder_id']}: zero-shot accuracy (balanced, chance, images)")
        for name, row in clip["zero_shot"].items():
            if row["num_images"]:
                lines.append(
                    f"  {name:<12} {row['accuracy']:.3f} ({row['balanced_accuracy']:.3f}, "
                    f"{row['chance']:.3f}, {row['num_images']})"
                )
        lines.append(f"  image→caption top-1 within {RETRIEVAL_BATCH}: {clip['retrieval_top1_in_64']}")
    parser = report["results"].get("parser")
    if parser:
        lines.append(
            f"parser {parser['parser_id']}: mean IoU {parser['mean_iou']:.3f}, "
            f"pixel accuracy {parser['pixel_accuracy']:.3f}"
        )
        lines.append("  " + ", ".join(f"{name} {value:.2f}" for name, value in parser["iou"].items()))
    return "\n".join(lines)

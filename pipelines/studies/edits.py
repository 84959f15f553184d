"""Edit study (DESIGN §5.3): does a text edit change the named attribute while identity and the rest stay?

Over samples drawn from a synthetic split (caption, camera and z seed as `tg3dface eval` draws them), each
source latent is mapped from its caption, then edited toward another hair colour with `edit_latent` (the
function behind `tg3dface edit`). The attribute reader scores both renders:

- `edited`: the reader sees the target colour in the edited render (and, as its baseline, the caption's
  colour in the source render);
- `unchanged`: accuracy of the other stated families against the ground truth, on the source renders and
  on the edited ones, and how often the reader's answer did not change;
- `identity`: identity cosine between each source render and its edit, beside the cosine of different
  identities (source i against the edit of another sample) as the floor.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.guidance import GuidanceConfig
from pipelines.core.samples import Latent
from pipelines.data.dataset import DatasetInfo, read_dataset
from pipelines.edit import MODES, edit_latent
from pipelines.errors import InvalidInputError
from pipelines.metrics.attributes import FAMILIES, accuracy, stated_mask, truth_labels
from pipelines.metrics.identity import IdentityConfig, load_identity_model
from pipelines.metrics.mvic import embed_views
from pipelines.metrics.renders import to_uint8
from pipelines.metrics.sampling import EvalPrompt, derangement, draw_prompts

EDITED_FAMILY = "hair_color"
EDIT_TEXT = "with {} hair"
"""The edit applied to each sample, with the target hair colour filled in."""


@dataclass(frozen=True)
class EditStudyConfig:
    """Which model, data and edits."""

    model: str
    """Model bundle folder, builtin:demo or random:PRESET."""
    data: Path
    """A synthetic data set folder (ground-truth attributes)."""
    num_samples: int = 64
    """Edited samples (each source caption states a hair colour)."""
    seed: int = 0
    """Fixes the samples and their target colours."""
    split: str = "test"
    """The split the source captions and cameras come from."""
    mode: str = "recondition"
    """recondition or direction (as `tg3dface edit --mode`)."""
    strength: float = 1.0
    """As `tg3dface edit --strength`."""
    guidance: GuidanceConfig = field(default_factory=lambda: GuidanceConfig(steps=20))
    """Steps, step size and regulariser of the direction mode."""
    targets: tuple[str, ...] = ()
    """Hair colours to edit toward (default: those of the training split, i.e. in-domain)."""
    reader: str | None = None
    """Attribute reader folder (default: the shipped one)."""
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    """The identity model of the identity cosine."""
    batch_size: int = 8
    device: str = "auto"
    weights_dir: str | None = None
    model_seed: int = 0
    """Initialisation seed of `random:` models."""


def edit_study(config: EditStudyConfig, progress=None) -> dict[str, Any]:
    """Edit `num_samples` samples and score them; returns the study's JSON-ready report."""
    from pipelines.core.bundle import model_record
    from pipelines.generate import load_model, sample_z
    from pipelines.metrics.reader import SHIPPED_READER, load_reader

    started = time.perf_counter()
    if config.mode not in MODES:
        raise InvalidInputError(f"--mode {config.mode!r}: expected {' or '.join(MODES)}")
    info = read_dataset(config.data)
    if not info.is_synthetic:
        raise InvalidInputError(f"{info.root}: the edit study needs a synthetic data set (ground truth)")
    prompts = _source_prompts(info, config)
    targets = _targets(info, prompts, config)
    device = resolve_device(config.device)
    generator = load_model(config.model, device, config.model_seed)
    encoder = load_encoder(generator.config.text_encoder, device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, encoder.encoder_id, config.model)
    sources, edits, prompts_after = [], [], []
    with torch.no_grad():
        for prompt, target in zip(prompts, targets, strict=True):
            camera = torch.tensor([prompt.camera], dtype=torch.float32, device=device)
            z = sample_z(prompt.seed, generator.config.mapping.z_dim).to(device)
            text = encoder.encode_text([prompt.text]).float()
            latent = Latent(generator.map(z, camera, text), text, camera, z, {"prompt": prompt.text})
            edited = edit_latent(
                generator,
                encoder,
                latent,
                EDIT_TEXT.format(target),
                config.mode,
                config.strength,
                config.guidance,
            )
            sources.append(to_uint8(generator.synthesis(latent.ws, camera)["image"]).cpu())
            edits.append(to_uint8(generator.synthesis(edited.ws, camera)["image"]).cpu())
            prompts_after.append(edited.info["prompt"])
            if progress:
                progress(1)
    source_images, edited_images = torch.cat(sources), torch.cat(edits)
    reader = load_reader(config.reader or SHIPPED_READER, device)
    report = {
        "kind": "edit_study",
        **model_record(config.model),
        "data": str(info.root.resolve()),
        "split": config.split,
        "num_samples": len(prompts),
        "seed": config.seed,
        "mode": config.mode,
        "strength": config.strength,
        "guidance": to_dict(config.guidance) if config.mode == "direction" else None,
        "edit": EDIT_TEXT,
        "targets": sorted(set(targets)),
        **_attribute_scores(info, prompts, targets, reader, source_images, edited_images, config.batch_size),
        "identity": _identity_scores(config, device, source_images, edited_images),
        "face_region": _face_region_psnr(source_images, edited_images, config.seed),
        "examples": [
            {"source": p.text, "edited": after, "target": t}
            for p, after, t in list(zip(prompts, prompts_after, targets, strict=True))[:3]
        ],
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    return report


def _source_prompts(info: DatasetInfo, config: EditStudyConfig) -> list[EvalPrompt]:
    """The first `num_samples` drawn prompts whose caption states the hair colour of a person with hair."""
    family = FAMILIES[EDITED_FAMILY]
    drawn = draw_prompts(info, config.split, 4 * config.num_samples, config.seed)
    chosen = []
    for prompt in drawn:
        record = info.records[prompt.record]
        if family.stated(prompt.text, record["parts"][prompt.caption]) and family.applies(
            record["attributes"]
        ):
            chosen.append(prompt)
    if len(chosen) < 2:
        raise InvalidInputError(f"{info.root}: too few {config.split!r} captions state a hair colour")
    return chosen[: config.num_samples]


def _targets(info: DatasetInfo, prompts: list[EvalPrompt], config: EditStudyConfig) -> list[str]:
    """One target colour per sample, different from its own, drawn from `config.targets`."""
    values = FAMILIES[EDITED_FAMILY].values
    choices = config.targets or tuple(
        v for v in values if any(r["attributes"][EDITED_FAMILY] == v for r in info.split("train"))
    )
    unknown = [c for c in choices if c not in values]
    if unknown:
        raise InvalidInputError(f"--targets {unknown[0]!r}: not a hair colour ({', '.join(values)})")
    rng = np.random.default_rng([config.seed, 7])
    targets = []
    for prompt in prompts:
        own = info.records[prompt.record]["attributes"][EDITED_FAMILY]
        others = [c for c in choices if c != own]
        if not others:
            raise InvalidInputError(f"--targets must name a hair colour other than {own!r}")
        targets.append(others[int(rng.integers(len(others)))])
    return targets


def _attribute_scores(
    info: DatasetInfo,
    prompts: list[EvalPrompt],
    targets: list[str],
    reader,
    source_images: torch.Tensor,
    edited_images: torch.Tensor,
    batch_size: int,
) -> dict[str, Any]:
    """Reader accuracy of the edited family (target on edits, caption on sources) and of the others."""
    records = [info.records[p.record] for p in prompts]
    attributes = [r["attributes"] for r in records]
    source = reader.network.predict(source_images, batch_size)
    edited = reader.network.predict(edited_images, batch_size)
    values = FAMILIES[EDITED_FAMILY].values
    wanted = torch.tensor([values.index(t) for t in targets])
    own = truth_labels(attributes, [EDITED_FAMILY])[EDITED_FAMILY]
    others = [f for f in reader.families if f != EDITED_FAMILY]
    labels = truth_labels(attributes, others)
    parts = [r["parts"][p.caption] for p, r in zip(prompts, records, strict=True)]
    mask = stated_mask([p.text for p in prompts], parts, attributes, others)
    unchanged_pairs = sum(int(m.sum()) for m in mask.values())
    same = sum(int((edited[f][mask[f]] == source[f][mask[f]]).sum()) for f in others)
    return {
        "edited": {
            "family": EDITED_FAMILY,
            "accuracy_after": _rate(edited[EDITED_FAMILY] == wanted),
            "accuracy_before": _rate(source[EDITED_FAMILY] == own),
            "still_source_value": _rate(edited[EDITED_FAMILY] == own),
        },
        "unchanged": {
            "before": accuracy({f: source[f] for f in others}, labels, mask),
            "after": accuracy({f: edited[f] for f in others}, labels, mask),
            "agreement": round(same / unchanged_pairs, 6) if unchanged_pairs else None,
        },
    }


def _identity_scores(
    config: EditStudyConfig, device: torch.device, source: torch.Tensor, edited: torch.Tensor
) -> dict[str, Any]:
    """Identity cosine of each source with its edit, and of different identities (the floor)."""
    model = load_identity_model(config.identity, device)
    embeddings = embed_views(model, source, {0.0: edited})
    same = embeddings.consistency()
    different = embeddings.consistency(derangement(len(source), config.seed))
    return {
        "model": same["identity_model"],
        "source_vs_edit": same["mean"],
        "pairs": same["pairs"],
        "no_face_rate": same["no_face_rate"],
        "reference": {"different_identities": different["mean"]},
    }


def _face_region_psnr(source: torch.Tensor, edited: torch.Tensor, seed: int) -> dict[str, Any]:
    """PSNR of each edit against its source over the source's face pixels (skin, eyes, brows, nose, mouth,
    found by the shipped synthetic parser): the region a hair edit should leave alone. The floor compares
    each source with another sample's edit on the same pixels."""
    from pipelines.core.parsing import SYNTHETIC_PARSER, load_parser, part_mask

    source_float, edited_float = source.float() / 127.5 - 1, edited.float() / 127.5 - 1
    with torch.no_grad():
        mask = part_mask(load_parser(SYNTHETIC_PARSER)(source_float), "face") > 0.5

    def psnr_per_sample(other: torch.Tensor) -> list[float]:
        pixels = mask.sum(dim=(1, 2, 3))
        mse = ((source_float - other).square() * mask).sum(dim=(1, 2, 3)) / (3 * pixels).clamp_min(1)
        return [
            10 * math.log10(4.0 / max(float(m), 1e-10)) for m, n in zip(mse, pixels, strict=True) if n > 0
        ]

    same = psnr_per_sample(edited_float)
    different = psnr_per_sample(edited_float[derangement(len(source), seed)])
    return {
        "psnr": round(sum(same) / len(same), 3) if same else None,
        "samples": len(same),
        "reference": {"different_faces": round(sum(different) / len(different), 3) if different else None},
    }


def _rate(hits: torch.Tensor) -> float:
    return round(float(hits.float().mean()), 6)

"""The `edit` stage: a sample bundle + a text edit -> a new sample bundle (DESIGN §5.3).

Two modes. `recondition` keeps the latent's z (or, for an inverted latent, its offset from the source
prompt's average w) and the camera, and swaps the text. `direction` moves w along the CLIP direction from
the old text to the new one, regularised toward the source latent. `strength` s interpolates (or
extrapolates) between the source latent and the edited one: w = w_src + s (w_edit - w_src).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipelines.core.bundle import model_record
from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.guidance import GuidanceConfig, guide
from pipelines.core.inputs import slugify
from pipelines.core.io import manifest_header, staged_folder, write_json_atomic
from pipelines.core.samples import LATENT_TENSORS, Latent, SampleOutputs, load_latent, write_sample_batch
from pipelines.errors import InvalidInputError

MODES = ("recondition", "direction")
CONNECTORS = re.compile(r"^(with|without|wearing|and|who|having|in)\b", re.IGNORECASE)
"""An edit text starting with one of these words changes the source prompt, else it replaces it."""
LINKING_WORDS = {"who", "that", "has", "have", "had", "with", "is", "are", "wears", "wearing", "of"}
"""Words that join a subject to a part's description in a caption."""


@dataclass(frozen=True)
class EditConfig:
    """What to edit and how."""

    source: Path
    """A sample folder (with latent.safetensors) or a sample set folder (every sample in its manifest)."""
    text: str
    """The edit: a phrase appended to the source prompt ("with blond hair") or a whole new prompt."""
    out: Path
    """The output sample set folder."""
    mode: str = "recondition"
    """recondition or direction."""
    strength: float = 1.0
    """Interpolation from the source latent (0) to the edited one (1); > 1 extrapolates."""
    guidance: GuidanceConfig = field(default_factory=lambda: GuidanceConfig(steps=20))
    """Steps, step size and regulariser of the direction mode."""
    model: str | None = None
    """Model bundle or random:PRESET (default: the one recorded in the source latent)."""
    outputs: SampleOutputs = field(default_factory=SampleOutputs)
    """Files written per sample."""
    device: str = "auto"
    weights_dir: str | None = None
    overwrite: bool = False


@dataclass
class EditResult:
    out: Path
    manifest: Path
    items: list[dict[str, Any]]
    files: list[Path]
    elapsed_s: float


def edited_prompt(source: str, edit: str) -> str:
    """The new prompt for an edit of `source`.

    An edit starting with a connector word ("with blond hair", "wearing sunglasses") changes the source:
    when the source describes every face part the edit names, each of those part phrases is replaced
    ("She has short red hair." -> "She has blond hair."); otherwise the edit is appended. Any other edit
    text is a whole new prompt.
    """
    edit = edit.strip()
    if not edit:
        raise InvalidInputError("empty edit text")
    if not CONNECTORS.match(edit):
        return edit
    replaced = _replace_part_phrases(source, edit)
    return replaced if replaced is not None else f"{source.rstrip(' .')} {edit}"


def _replace_part_phrases(source: str, edit: str) -> str | None:
    """`source` with the edit's part phrases in place of its own; None unless it has all of them."""
    from pipelines.data.real.parts import caption_parts

    old_parts, new_parts = caption_parts(source), caption_parts(edit)
    if not new_parts:
        return None
    for part, phrase in new_parts.items():
        old = _descriptor(old_parts.get(part, ""))
        if not old or old not in source:
            return None
        source = source.replace(old, phrase, 1)
    return source


def _descriptor(phrase: str) -> str:
    """The part's own words in an extracted phrase: any clause before the last linking word that precedes
    the part's first keyword is dropped ("a lady who has long brown hair with bangs" -> "long brown hair
    with bangs")."""
    from pipelines.data.real.parts import PART_KEYWORDS

    keywords = {word for words in PART_KEYWORDS.values() for word in words}
    words = phrase.split()
    first = next((i for i, word in enumerate(words) if word.lower().strip(".,") in keywords), len(words))
    links = [i for i, word in enumerate(words[:first]) if word.lower() in LINKING_WORDS]
    return " ".join(words[links[-1] + 1 :] if links else words)


def sample_folders(source: Path) -> list[Path]:
    """The sample folders a source path names (one sample, or every item of a sample set)."""
    source = Path(source)
    if (source / LATENT_TENSORS).is_file():
        return [source]
    manifest = source / "manifest.json"
    if manifest.is_file():
        try:
            items = json.loads(manifest.read_text(encoding="utf-8")).get("items", [])
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{manifest}: not valid JSON ({error})") from error
        folders = [source / item["dir"] for item in items if isinstance(item, dict) and "dir" in item]
        if folders:
            return folders
    raise InvalidInputError(
        f"{source}: not a sample folder (no {LATENT_TENSORS}) nor a sample set with items"
    )


def edit(config: EditConfig, progress=None) -> EditResult:
    """Edit every sample named by `config.source`; writes a new sample set atomically."""
    from pipelines.generate import load_model

    started = time.perf_counter()
    if config.mode not in MODES:
        raise InvalidInputError(f"--mode {config.mode!r}: expected {' or '.join(MODES)}")
    folders = sample_folders(config.source)
    latents = [load_latent(folder) for folder in folders]
    model = config.model or _recorded_model(latents, folders)
    recorded = model_record(model)
    device = resolve_device(config.device)
    generator = load_model(model, device, int(latents[0].info.get("model_seed", 0) or 0))
    encoder = load_encoder(generator.config.text_encoder, device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, encoder.encoder_id, model)
    edited, names = [], []
    with torch.no_grad():
        for folder, latent in zip(folders, latents, strict=True):
            edited.append(
                edit_latent(
                    generator, encoder, latent, config.text, config.mode, config.strength, config.guidance
                )
            )
            edited[-1].info["source_sample"] = str(folder.resolve())
            edited[-1].info["model"] = recorded["model"]
            names.append(f"{folder.name}-{slugify(config.text, 32)}")
            if progress:
                progress(1)
    with staged_folder(config.out, config.overwrite) as staging, torch.no_grad():
        items = write_sample_batch(staging, generator, edited, names, config.outputs)
        manifest = manifest_header(
            "samples",
            **recorded,
            text_encoder=encoder.encoder_id,
            device=str(device),
            params={
                "edit": config.text,
                "mode": config.mode,
                "strength": config.strength,
                "guidance": to_dict(config.guidance),
                **to_dict(config.outputs),
            },
            items=items,
        )
        write_json_atomic(staging / "manifest.json", manifest)
    out = Path(config.out)
    files = [out / f for item in items for f in item["files"]] + [out / "manifest.json"]
    return EditResult(out, out / "manifest.json", items, files, time.perf_counter() - started)


def _recorded_model(latents: list[Latent], folders: list[Path]) -> str:
    """The one model the samples record; a relative path (invert's tuned model) is relative to the sample
    folder."""
    models = {latent.info.get("model") for latent in latents}
    if len(models) != 1 or None in models:
        raise InvalidInputError(f"{folders[0]}: the samples do not record one model; pass --model")
    model = models.pop()
    if ":" not in model and not Path(model).is_absolute():
        return str((folders[0] / model).resolve())
    return model


def edit_latent(
    generator: TriPlaneGenerator,
    encoder,
    latent: Latent,
    text: str,
    mode: str = "recondition",
    strength: float = 1.0,
    guidance: GuidanceConfig = GuidanceConfig(steps=20),
) -> Latent:
    """The edited latent of one sample (on the generator's device).

    Args:
        latent: the source sample's latent (ws (1, num_ws, w_dim), text embedding, camera, z, info).
        text: the edit (see `edited_prompt`); mode, strength, guidance: as in EditConfig.
    """
    device = next(generator.parameters()).device
    source_prompt = str(latent.info.get("prompt") or "")
    prompt = edited_prompt(source_prompt, text)
    ws_src = latent.ws.to(device)
    camera = latent.camera.to(device)
    old_text = latent.text_embedding.to(device)
    new_text = encoder.encode_text([prompt]).float()
    if mode == "recondition":
        ws_edit = _recondition(generator, latent, ws_src, camera, old_text, new_text)
    else:
        reference = encoder.encode_image(generator.synthesis(ws_src, camera)["image"]).float()
        ws_edit = guide(
            generator, encoder.encode_image, ws_src, camera, new_text - old_text, reference, guidance
        )
    ws = ws_src + strength * (ws_edit - ws_src)
    info = {
        **latent.info,
        "prompt": prompt,
        "source_prompt": source_prompt,
        "edit_guidance": to_dict(guidance) if mode == "direction" else None,
        "edit": text,
        "mode": mode,
        "strength": strength,
        "source": "edit",
    }
    z = None if latent.z is None else latent.z.to(device)
    return Latent(ws=ws, text_embedding=new_text, camera=camera, z=z, info=info)


def _recondition(generator, latent: Latent, ws_src, camera, old_text, new_text):
    """New text, same z (mapped again) or, without z, the same offset from the prompt's average w."""
    truncation = float(latent.info.get("truncation", 1.0) or 1.0)
    if latent.z is not None:
        w_avg = generator.mean_w(new_text) if truncation != 1.0 else None
        return generator.map(latent.z.to(ws_src.device), camera, new_text, truncation, w_avg)
    shift = generator.mean_w(new_text) - generator.mean_w(old_text)
    return ws_src + shift[:, None]

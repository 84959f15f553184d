"""The `invert` stage: one photo -> a sample bundle whose latent reproduces it (DESIGN §5.3).

The photo is aligned and its camera estimated (or, with `aligned`, taken as an aligned crop whose camera
is given or recorded in the dataset folder it lives in); then w, w+ and optionally pivotal tuning
(`pipelines.core.inversion`); then novel views, video and mesh exactly as `generate` writes them. With
pivotal tuning the tuned generator is saved as a model bundle inside the output, and the latent names it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pipelines import DEMO_MODEL
from pipelines.core.bundle import model_record, save_bundle
from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.inputs import slugify
from pipelines.core.inversion import InversionConfig, invert_latent, pivotal_tuning, psnr
from pipelines.core.io import manifest_header, staged_folder, write_json_atomic
from pipelines.core.samples import Latent, SampleOutputs, to_uint8, write_png, write_sample_batch
from pipelines.errors import InvalidInputError

TUNED_MODEL = "tuned-model"


@dataclass(frozen=True)
class InvertConfig:
    """What to invert, with which model, and where to write it."""

    photo: Path
    """The input photo (any size), or an aligned crop with `aligned`."""
    out: Path
    """The output sample set folder."""
    model: str = DEMO_MODEL
    """Model bundle folder or random:PRESET."""
    prompt: str = "a photo of a face"
    """The text condition the latent is found under (edit later changes it)."""
    inversion: InversionConfig = field(default_factory=InversionConfig)
    """Steps and weights of the optimisation."""
    aligned: bool = False
    """The photo is already an aligned crop: skip detection and alignment."""
    camera: Path | None = None
    """With `aligned`: a JSON file holding the 25-float camera label (default: the photo's dataset record)."""
    outputs: SampleOutputs = field(default_factory=SampleOutputs)
    device: str = "auto"
    weights_dir: str | None = None
    overwrite: bool = False


@dataclass
class InvertResult:
    out: Path
    manifest: Path
    items: list[dict[str, Any]]
    files: list[Path]
    psnr_input_view: float
    elapsed_s: float


def aligned_camera(photo: Path, camera: Path | None) -> torch.Tensor:
    """(1, 25) camera of an aligned crop: from `camera` JSON, or from the dataset folder holding `photo`."""
    if camera is not None:
        try:
            values = json.loads(Path(camera).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"{camera}: cannot read a camera label ({error})") from error
        values = values.get("camera", values) if isinstance(values, dict) else values
        if not isinstance(values, list) or len(values) != 25:
            raise InvalidInputError(f'{camera}: expected a list of 25 numbers (or {{"camera": [...]}})')
        return torch.tensor([values], dtype=torch.float32)
    root = photo.resolve().parent.parent
    records = root / "records.jsonl"
    relative = photo.resolve().relative_to(root).as_posix() if records.is_file() else None
    if relative is not None:
        with open(records, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("image") == relative:
                    return torch.tensor([record["camera"]], dtype=torch.float32)
    raise InvalidInputError(f"{photo}: --aligned needs --camera FILE (the photo is not in a dataset folder)")


def load_target(photo: Path, resolution: int) -> torch.Tensor:
    """(1, 3, R, R) in [-1, 1]: an aligned crop resized to the generator's resolution."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = np.asarray(Image.open(photo).convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise InvalidInputError(f"{photo}: cannot read the image ({error})") from error
    if image.shape[0] != image.shape[1]:
        raise InvalidInputError(
            f"{photo}: an aligned crop must be square, got {image.shape[1]}x{image.shape[0]}"
        )
    target = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return F.interpolate(target, size=(resolution, resolution), mode="area", antialias=False)


def invert(config: InvertConfig, on_step=None) -> InvertResult:
    """Invert one photo into a sample bundle set with a single sample."""
    from pipelines.generate import load_model

    started = time.perf_counter()
    device = resolve_device(config.device)
    generator = load_model(config.model, device)
    encoder = load_encoder(generator.config.text_encoder, device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, encoder.encoder_id, config.model)
    photo = Path(config.photo)
    if not photo.is_file():
        raise InvalidInputError(f"{photo}: photo not found")
    if config.aligned:
        camera = aligned_camera(photo, config.camera).to(device)
        target = load_target(photo, generator.config.image_resolution).to(device)
    else:
        target, camera = _align_photo(photo, generator.config.image_resolution, config)
        target, camera = target.to(device), camera.to(device)
    with torch.no_grad():
        text = encoder.encode_text([config.prompt]).float()
        w_start = generator.mean_w(text)
    ws = invert_latent(generator, encoder.encode_image, target, camera, w_start, config.inversion, on_step)
    name = f"{slugify(photo.stem)}-inverted"
    with staged_folder(config.out, config.overwrite) as staging:
        model_spec = latent_model = model_record(config.model)["model"]
        if config.inversion.pti_steps:
            generator = pivotal_tuning(
                generator, encoder.encode_image, target, camera, ws, config.inversion, on_step
            )
            save_bundle(
                generator, staging / TUNED_MODEL, {"tuned_from": config.model, "photo": str(photo.resolve())}
            )
            model_spec = str((Path(config.out) / TUNED_MODEL).resolve())
            latent_model = f"../{TUNED_MODEL}"  # relative to the sample folder: the set can be moved
        with torch.no_grad():
            reconstruction = generator.synthesis(ws, camera)["image"]
            score = psnr(reconstruction, target)
            latent = Latent(
                ws=ws,
                text_embedding=text,
                camera=generator.frontal_camera(1),
                info={
                    "prompt": config.prompt,
                    "seed": None,
                    "truncation": 1.0,
                    "space": "w+" if config.inversion.wplus_steps else "w",
                    "model": latent_model,
                    "text_encoder": generator.config.text_encoder,
                    "source": "invert",
                    "photo": str(photo.resolve()),
                    "input_camera": camera[0].tolist(),
                    "psnr_input_view": round(score, 3),
                    "inversion": to_dict(config.inversion),
                },
            )
            items = write_sample_batch(staging, generator, [latent], [name], config.outputs)
            for image, label in ((target, "input.png"), (reconstruction, "reconstruction.png")):
                write_png(staging / name / label, to_uint8(image[0]))
                items[0]["files"].append(f"{name}/{label}")
        items[0]["psnr_input_view"] = round(score, 3)
        manifest = manifest_header(
            "samples", model=model_spec, source_model=config.model, text_encoder=encoder.encoder_id,
            device=str(device), params={"inversion": to_dict(config.inversion), **to_dict(config.outputs)},
            items=items,
        )  # fmt: skip
        write_json_atomic(staging / "manifest.json", manifest)
        tuned_files = sorted(
            p.relative_to(staging).as_posix() for p in (staging / TUNED_MODEL).rglob("*") if p.is_file()
        )
    out = Path(config.out)
    files = [out / f for f in items[0]["files"] + tuned_files] + [out / "manifest.json"]
    return InvertResult(out, out / "manifest.json", items, files, score, time.perf_counter() - started)


def _align_photo(photo: Path, resolution: int, config: InvertConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Detect, align and estimate the camera of a raw photo exactly as `prepare` does."""
    from pipelines.data.real.single import align_photo

    image, label = align_photo(photo, resolution, weights_dir=config.weights_dir, device=config.device)
    target = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return target, torch.tensor([label], dtype=torch.float32)

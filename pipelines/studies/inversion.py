"""Inversion study (DESIGN §5.3): single-view reconstruction of synthetic photos whose true heads are known.

Each image of a synthetic split is inverted from its own (true) camera with `invert_latent` (and, with
pti_steps > 0, pivotal tuning), the functions behind `tg3dface invert --aligned`. Scored against the truth:

- PSNR in the input view (how well the photo is reproduced);
- PSNR of novel views at yaw ±30° (pitch 0) against the true head rendered there (is the 3D shape right?);
- depth error in the input view: mean |generator depth - true depth| over the true head's pixels, in world
  units, at the neural rendering resolution.

Each figure is given beside its floor: the same numbers for the starting latent (the prompt's average w)
before any optimisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipelines import DEMO_MODEL
from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.inversion import InversionConfig, invert_latent, pivotal_tuning, psnr
from pipelines.core.samples import view_camera
from pipelines.data.dataset import DatasetInfo, read_dataset
from pipelines.errors import InvalidInputError
from pipelines.invert import load_target
from pipelines.metrics.sampling import draw_records
from pipelines.metrics.truth import render_true_views


@dataclass(frozen=True)
class InversionStudyConfig:
    """Which model, which images, how hard to optimise."""

    data: Path
    """A synthetic data set folder (its images are the photos; their heads are the truth)."""
    model: str = DEMO_MODEL
    """Model bundle folder, builtin:demo or random:PRESET."""
    num_samples: int = 8
    """Images inverted."""
    seed: int = 0
    """Fixes which images."""
    split: str = "test"
    """The split the images come from."""
    inversion: InversionConfig = field(default_factory=InversionConfig)
    """Steps, step size, loss weights and pivotal tuning (as `tg3dface invert`)."""
    yaws: tuple[float, ...] = (-30.0, 30.0)
    """Novel views scored (degrees, pitch 0)."""
    prompt: str = "a photo of a face"
    """Text condition of the latent (as `tg3dface invert --prompt`)."""
    device: str = "auto"
    weights_dir: str | None = None
    model_seed: int = 0
    """Initialisation seed of `random:` models."""


def inversion_study(config: InversionStudyConfig, progress=None) -> dict[str, Any]:
    """Invert `num_samples` images and score them against their true heads; returns the JSON-ready report."""
    from pipelines.core.bundle import model_record
    from pipelines.generate import load_model

    started = time.perf_counter()
    info = read_dataset(config.data)
    if not info.is_synthetic:
        raise InvalidInputError(f"{info.root}: the inversion study needs a synthetic data set (true heads)")
    records = [info.records[i] for i in draw_records(info, config.num_samples, config.seed, config.split)]
    if not records:
        raise InvalidInputError(f"{info.root}: the {config.split!r} split has no records")
    device = resolve_device(config.device)
    generator = load_model(config.model, device, config.model_seed)
    encoder = load_encoder(generator.config.text_encoder, device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, encoder.encoder_id, config.model)
    with torch.no_grad():
        w_start = generator.mean_w(encoder.encode_text([config.prompt]).float())
    start_ws = w_start[:, None].expand(-1, generator.num_ws, -1)
    samples = []
    for record in records:
        sample_started = time.perf_counter()
        truth = _Truth.of(info, record, generator, config.yaws)
        target, camera = truth.input_image.to(device), truth.camera.to(device)
        ws = invert_latent(generator, encoder.encode_image, target, camera, w_start, config.inversion)
        model = generator
        if config.inversion.pti_steps:
            model = pivotal_tuning(generator, encoder.encode_image, target, camera, ws, config.inversion)
        samples.append(
            {
                "id": record["id"],
                "inverted": truth.score(model, ws, device),
                "start": truth.score(generator, start_ws, device),
                "seconds": round(time.perf_counter() - sample_started, 3),
            }
        )
        if progress:
            progress(1)
    return {
        "kind": "inversion_study",
        **model_record(config.model),
        "data": str(info.root.resolve()),
        "split": config.split,
        "num_samples": len(samples),
        "seed": config.seed,
        "inversion": to_dict(config.inversion),
        "prompt": config.prompt,
        "yaws": list(config.yaws),
        "summary": {which: _means([s[which] for s in samples]) for which in ("inverted", "start")},
        "samples": samples,
        "device": str(device),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


@dataclass
class _Truth:
    """One record's photo, camera and true renders, at the generator's resolutions."""

    camera: torch.Tensor
    """(1, 25) the record's camera."""
    input_image: torch.Tensor
    """(1, 3, R, R) the photo in [-1, 1]."""
    input_depth: torch.Tensor
    """(1, 1, r, r) true depth along each ray at the neural rendering resolution."""
    input_mask: torch.Tensor
    """(1, 1, r, r) bool: the ray hits the true head."""
    views: dict[float, tuple[torch.Tensor, torch.Tensor]]
    """yaw -> ((1, 25) camera, (1, 3, R, R) true render in [-1, 1])."""

    @classmethod
    def of(
        cls, info: DatasetInfo, record: dict[str, Any], generator: TriPlaneGenerator, yaws: tuple[float, ...]
    ) -> _Truth:
        resolution = generator.config.image_resolution
        depth_resolution = generator.config.rendering.neural_rendering_resolution
        camera = torch.tensor([record["camera"]], dtype=torch.float32)
        photo = load_target(info.root / record["image"], resolution)
        coarse = render_true_views(info, [record], camera, depth_resolution)
        views = {}
        for yaw in yaws:
            view = view_camera(generator, yaw, 0.0)
            image = render_true_views(info, [record], view, resolution).images.float() / 127.5 - 1
            views[yaw] = (view, image)
        return cls(camera, photo, coarse.depth, coarse.opacity > 0.5, views)

    @torch.no_grad()
    def score(self, generator: TriPlaneGenerator, ws: torch.Tensor, device: torch.device) -> dict[str, Any]:
        """PSNR in the input view and the novel views, and depth error, of a latent's renders."""
        out = generator.synthesis(ws, self.camera.to(device))
        depth = out["image_depth"].float().cpu()
        error = (depth - self.input_depth).abs()[self.input_mask]
        novel = {
            f"{yaw:+.0f}": round(psnr(generator.synthesis(ws, camera.to(device))["image"].cpu(), image), 3)
            for yaw, (camera, image) in self.views.items()
        }
        return {
            "psnr_input_view": round(psnr(out["image"].cpu(), self.input_image), 3),
            "psnr_novel_views": novel,
            "depth_error": round(float(error.mean()), 5) if error.numel() else None,
        }


def _means(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each figure over the samples."""

    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return round(sum(kept) / len(kept), 4) if kept else None

    yaws = scores[0]["psnr_novel_views"].keys()
    return {
        "psnr_input_view": mean([s["psnr_input_view"] for s in scores]),
        "psnr_novel_views": {yaw: mean([s["psnr_novel_views"][yaw] for s in scores]) for yaw in yaws},
        "psnr_novel_mean": mean([v for s in scores for v in s["psnr_novel_views"].values()]),
        "depth_error": mean([s["depth_error"] for s in scores]),
    }

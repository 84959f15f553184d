"""The `prepare` stage: build a dataset folder (DESIGN §3.1). Prints nothing; reports through `progress`.

`prepare_synthetic` renders the procedural world; `prepare_real` turns a folder of real images with
captions (pipelines.data.real) into the same format.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipelines.core.device import resolve_device
from pipelines.core.io import staged_folder
from pipelines.data.dataset import DatasetWriter
from pipelines.data.real.config import RealDataConfig
from pipelines.data.synthetic import SyntheticConfig, build_synthetic
from pipelines.data.synthetic.captions import CAPTIONS_PER_IMAGE
from pipelines.data.text_cache import write_text_cache


@dataclass(frozen=True)
class PrepareResult:
    """What a prepare run wrote."""

    path: Path
    """The dataset folder."""
    num_images: int
    counts: dict[str, int]
    """Images per split."""
    text_encoder: str | None
    """Encoder id of the cached text features, or None."""
    elapsed_s: float
    rejected: int = 0
    """Inputs skipped (listed in rejected.jsonl)."""

    @property
    def images_per_minute(self) -> float:
        return 60.0 * self.num_images / max(self.elapsed_s, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the CLI's --json output)."""
        return {
            "path": str(self.path),
            "num_images": self.num_images,
            "counts": self.counts,
            "text_encoder": self.text_encoder,
            "rejected": self.rejected,
            "elapsed_s": round(self.elapsed_s, 3),
            "images_per_minute": round(self.images_per_minute, 1),
        }


def prepare_synthetic(
    config: SyntheticConfig,
    out: str | Path,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PrepareResult:
    """Build a synthetic dataset folder at `out`.

    The folder is assembled next to `out` and moved into place only when complete, so a failure leaves
    nothing behind and an existing folder is replaced only with `overwrite` (and only at the end).

    Args:
        config: what to build (validated here).
        out: the dataset folder to create.
        overwrite: replace an existing non-empty folder.
        progress: called with the number of images finished after each rendered batch.
    """
    start = time.perf_counter()
    config.validate()
    device = str(resolve_device(config.device))
    config_run = replace(config, device=device)
    encoder = None
    if config.encoder:
        from pipelines.core.encoders import load_encoder

        encoder = load_encoder(config.encoder, device=device)
    out = Path(out)
    with staged_folder(out, overwrite) as tmp:
        writer = DatasetWriter(tmp)
        build_synthetic(config_run, tmp, writer.add, progress)
        text_info = write_text_cache(tmp, writer.texts(), encoder) if encoder is not None else None
        manifest = writer.finish(
            source="synthetic",
            resolution=config.resolution,
            text_embeddings=text_info,
            captions_per_image=CAPTIONS_PER_IMAGE,
            synthetic={**config.to_dict(), "compiled": config.compiled},
        )
    encoder_id = encoder.encoder_id if encoder is not None else None
    elapsed = time.perf_counter() - start
    return PrepareResult(out, manifest["num_images"], manifest["counts"], encoder_id, elapsed)


def prepare_real(
    source: str | Path,
    out: str | Path,
    config: RealDataConfig,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PrepareResult:
    """Build a dataset folder at `out` from a folder of real face images with captions.

    Models are loaded first (missing weights fail before any work); items are processed into a work
    folder beside `out` that survives an interruption (`resume` continues it); the dataset is assembled
    in a staged folder and moved into place when complete.

    Args:
        source: the source folder (any layout of pipelines.data.real.layouts).
        out: the dataset folder to create.
        config: how to prepare it (validated here).
        overwrite: replace an existing non-empty folder (only at the end).
        resume: continue an interrupted run instead of starting over.
        progress: called with the number of items finished, as they finish.
        on_start: called once with the number of source items, before processing.
    """
    from pipelines.data.real.builder import assemble, process_items, work_folder
    from pipelines.data.real.layouts import list_source
    from pipelines.data.real.process import load_tools

    start = time.perf_counter()
    config.validate()
    config = replace(config, device=str(resolve_device(config.device)))
    encoder = None
    if config.encoder:
        from pipelines.core.encoders import load_encoder

        encoder = load_encoder(config.encoder, device=config.device, weights_dir=config.detector.weights_dir)
    listing = list_source(source, config.layout)
    load_tools(config, with_parser=config.parse and any(item.masks is None for item in listing.items))
    if on_start is not None:
        on_start(len(listing.items))
    out = Path(out)
    work = work_folder(out)
    with staged_folder(out, overwrite) as tmp:
        process_items(listing, config, work, resume, progress)
        writer = DatasetWriter(tmp)
        summary = assemble(listing, config, work, tmp, writer)
        text_info = write_text_cache(tmp, writer.texts(), encoder) if encoder is not None else None
        manifest = writer.finish(
            source=listing.layout,
            resolution=config.resolution,
            text_embeddings=text_info,
            source_folder=str(Path(source).absolute()),
            prepare=config.to_dict(),
            **summary,
        )
    shutil.rmtree(work, ignore_errors=True)
    encoder_id = encoder.encoder_id if encoder is not None else None
    elapsed = time.perf_counter() - start
    return PrepareResult(
        out, manifest["num_images"], manifest["counts"], encoder_id, elapsed, manifest["rejected"]
    )

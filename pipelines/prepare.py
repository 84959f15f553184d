"""The `prepare` stage: build a dataset folder (DESIGN §3.1). Prints nothing; reports through `progress`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipelines.core.device import resolve_device
from pipelines.core.io import staged_folder
from pipelines.data.dataset import DatasetWriter
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

"""Render a planned synthetic set into a dataset folder: fixed batches, optional worker processes.

Images are planned in the main process (cheap), rendered in fixed batches of `batch_size` consecutive
indices (so the bytes do not depend on how many workers there are), written by whoever rendered them, and
indexed in order by the main process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.core.cameras import orbit_label
from pipelines.data.dataset import record_id, save_png
from pipelines.data.synthetic.config import SyntheticConfig
from pipelines.data.synthetic.landmarks import landmarks_2d, landmarks_3d
from pipelines.data.synthetic.mesh import head_mesh, save_ply
from pipelines.data.synthetic.params import params_to_dict
from pipelines.data.synthetic.plan import ImageSpec, plan_image
from pipelines.data.synthetic.render import HeadRenderer, one_thread

SUBFOLDERS = ("images", "parsing", "depth")


@dataclass(frozen=True)
class _Batch:
    """Work for one render call (picklable for worker processes)."""

    root: str
    ids: list[str]
    heads: np.ndarray
    """(B, P) parameter rows."""
    cameras: np.ndarray
    """(B, 25) camera labels."""
    resolution: int
    supersample: int
    compiled: bool
    device: str
    mesh_resolution: int | None


def _render_batch(batch: _Batch) -> list[dict[str, Any]]:
    """Render and write one batch; returns each image's landmark fields."""
    renderer = HeadRenderer(compiled=batch.compiled, device=batch.device)
    heads, cameras = torch.from_numpy(batch.heads), torch.from_numpy(batch.cameras)
    out = renderer.render(heads, cameras, batch.resolution, batch.supersample)
    rgb = out.rgb_uint8().numpy()
    points = landmarks_3d(heads)
    pixels = landmarks_2d(points, cameras, batch.resolution)
    root = Path(batch.root)
    results = []
    for i, name in enumerate(batch.ids):
        save_png(root / "images" / f"{name}.png", rgb[i])
        save_png(root / "parsing" / f"{name}.png", out.parsing[i].numpy())
        np.save(root / "depth" / f"{name}.npy", out.depth[i].numpy().astype(np.float32))
        fields: dict[str, Any] = {"landmarks": pixels[i].tolist(), "landmarks_3d": points[i].tolist()}
        if batch.mesh_resolution:
            vertices, faces = head_mesh(renderer.sdf, heads[i : i + 1], batch.mesh_resolution)
            save_ply(root / "meshes" / f"{name}.ply", vertices, faces)
            fields["mesh"] = f"meshes/{name}.ply"
        results.append(fields)
    return results


def _record(spec: ImageSpec, camera: np.ndarray, fields: dict[str, Any]) -> dict[str, Any]:
    name = record_id(spec.index)
    return {
        "id": name,
        "image": f"images/{name}.png",
        "parsing": f"parsing/{name}.png",
        "camera": [float(v) for v in camera],
        "captions": spec.captions,
        "parts": spec.parts,
        "split": spec.split,
        "depth": f"depth/{name}.npy",
        "yaw": spec.yaw,
        "pitch": spec.pitch,
        **fields,
        "attributes": spec.attributes.to_dict(),
        "head": params_to_dict(spec.head),
    }


def _init_worker() -> None:
    torch.set_num_threads(1)


def _results(batches: list[_Batch], workers: int) -> Iterator[list[dict[str, Any]]]:
    """Batch results in order, from this process or a spawn pool."""
    if workers == 1:
        with one_thread():
            yield from map(_render_batch, batches)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        yield from pool.map(_render_batch, batches)


def build_synthetic(
    config: SyntheticConfig,
    root: Path,
    add_record: Callable[[dict[str, Any]], None],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Plan, render and write `config.num_images` images into `root`, passing each record to `add_record`.

    Args:
        config: a validated configuration.
        root: the (temporary) dataset folder; image, parsing, depth (and mesh) files go in its subfolders.
        add_record: called once per image, in index order (e.g. `DatasetWriter.add`).
        progress: called with the number of images finished after each batch.
    """
    for folder in SUBFOLDERS + (("meshes",) if config.meshes else ()):
        (root / folder).mkdir(parents=True, exist_ok=True)
    holdout = config.parsed_holdout()
    specs = [plan_image(config.seed, i, holdout, config.test_fraction) for i in range(config.num_images)]
    cameras = orbit_label(
        torch.tensor([s.yaw for s in specs]), torch.tensor([s.pitch for s in specs])
    ).numpy()
    batches = [
        _Batch(
            root=str(root),
            ids=[record_id(s.index) for s in specs[start : start + config.batch_size]],
            heads=np.stack([s.head for s in specs[start : start + config.batch_size]]),
            cameras=cameras[start : start + config.batch_size],
            resolution=config.resolution,
            supersample=config.supersample,
            compiled=config.compiled,
            device=config.device,
            mesh_resolution=config.mesh_resolution if config.meshes else None,
        )
        for start in range(0, len(specs), config.batch_size)
    ]
    workers = min(config.workers, len(batches))
    done = 0
    for results in _results(batches, workers):
        for fields in results:
            add_record(_record(specs[done], cameras[done], fields))
            done += 1
        if progress is not None:
            progress(len(results))

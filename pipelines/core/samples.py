"""Sample bundles (DESIGN §3.4): what `generate`, `edit` and `invert` write for one face.

<sample>/views/yaw+30_pitch+00.png    final images
<sample>/depth/yaw+30_pitch+00.png    16-bit depth: 0 at ray_start, 65535 at ray_end
<sample>/turntable.mp4 (or .gif)      a yaw sweep
<sample>/mesh.ply|obj|glb             marching cubes of the density, vertex colours
<sample>/latent.safetensors           z, ws, text_embedding, camera
<sample>/latent.json                  prompt, seed and how the latent was made
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pipelines.core import cameras
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.io import write_json_atomic, write_with
from pipelines.errors import InvalidInputError

LATENT_TENSORS = "latent.safetensors"
LATENT_JSON = "latent.json"


@dataclass(frozen=True)
class SampleOutputs:
    """Which files to write for each sample."""

    views: tuple[tuple[float, float], ...] = ((0.0, 0.0), (-30.0, 0.0), (30.0, 0.0))
    """(yaw, pitch) of each still view, in degrees."""
    depth: bool = True
    """Write a 16-bit depth map per view."""
    video: str | None = None
    """None, 'mp4' or 'gif': a turntable of `video_frames` frames sweeping yaw over +-`video_yaw`."""
    video_frames: int = 48
    """Frames in the turntable."""
    video_yaw: float = 35.0
    """Largest yaw of the turntable, in degrees."""
    mesh: str | None = None
    """None, 'ply', 'obj' or 'glb'."""
    mesh_resolution: int = 128
    """Marching-cubes grid samples per axis."""
    iso: float = 10.0
    """Density level of the mesh surface (on the activated density, as EG3D's shapes)."""
    frame_batch: int = 8
    """Frames rendered together for the turntable."""


@dataclass
class Latent:
    """Everything needed to re-render, edit or continue a sample."""

    ws: Tensor
    """(1, num_ws, w_dim) the latent the sample was rendered from."""
    text_embedding: Tensor
    """(1, D) the text condition."""
    camera: Tensor
    """(1, 25) the camera the mapping was conditioned on."""
    z: Tensor | None = None
    """(1, z_dim) the Gaussian latent, when the sample came from one."""
    info: dict[str, Any] = field(default_factory=dict)
    """JSON-ready facts: prompt, seed, truncation, space, model, ..."""


def view_name(yaw: float, pitch: float) -> str:
    """'yaw+30_pitch-05' for a view at yaw 30, pitch -5 degrees."""
    return f"yaw{yaw:+03.0f}_pitch{pitch:+03.0f}"


def view_camera(generator: TriPlaneGenerator, yaw: float, pitch: float) -> Tensor:
    """(1, 25) the orbit camera of the generator's defaults at (yaw, pitch) degrees."""
    cam = generator.config.camera
    return cameras.orbit_label(math.radians(yaw), math.radians(pitch), cam.radius, cam.pivot, cam.focal)


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def depth_to_uint16(depth: Tensor, ray_start: float, ray_end: float) -> np.ndarray:
    """(1, h, w) world depth -> (h, w) uint16, linear from ray_start (0) to ray_end (65535)."""
    scaled = (depth[0].float() - ray_start) / (ray_end - ray_start)
    return (scaled.clamp(0, 1) * 65535).round().to(torch.int32).cpu().numpy().astype(np.uint16)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 or (H, W) uint16 array as PNG atomically."""
    from PIL import Image

    write_with(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def save_latent(folder: Path, latent: Latent) -> list[Path]:
    """Write latent.safetensors and latent.json."""
    from safetensors.torch import save_file

    tensors = {"ws": latent.ws, "text_embedding": latent.text_embedding, "camera": latent.camera}
    if latent.z is not None:
        tensors["z"] = latent.z
    tensors = {name: value.detach().float().cpu().contiguous() for name, value in tensors.items()}
    paths = [write_with(folder / LATENT_TENSORS, lambda tmp: save_file(tensors, tmp))]
    paths.append(write_json_atomic(folder / LATENT_JSON, latent.info))
    return paths


def load_latent(folder: str | Path) -> Latent:
    """Read a sample bundle's latent; one-line errors name the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    tensor_path, json_path = folder / LATENT_TENSORS, folder / LATENT_JSON
    for path in (tensor_path, json_path):
        if not path.is_file():
            raise InvalidInputError(f"{path}: missing (not a sample bundle)")
    try:
        tensors = load_file(tensor_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise InvalidInputError(f"{tensor_path}: corrupt or truncated safetensors file ({error})") from error
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{json_path}: not valid JSON ({error})") from error
    missing = {"ws", "text_embedding", "camera"} - set(tensors)
    if missing:
        raise InvalidInputError(f"{tensor_path}: missing tensor(s) {', '.join(sorted(missing))}")
    return Latent(tensors["ws"], tensors["text_embedding"], tensors["camera"], tensors.get("z"), info)


def write_views(
    folder: Path,
    renders: dict[tuple[float, float], dict[str, Tensor]],
    index: int,
    generator: TriPlaneGenerator,
    depth: bool,
) -> list[Path]:
    """Write item `index` of batched renders {(yaw, pitch): generator outputs} as view (and depth) PNGs."""
    rendering = generator.config.rendering
    paths = []
    for (yaw, pitch), out in renders.items():
        name = view_name(yaw, pitch) + ".png"
        paths.append(folder / "views" / name)
        write_png(paths[-1], to_uint8(out["image"][index]))
        if depth:
            paths.append(folder / "depth" / name)
            write_png(
                paths[-1], depth_to_uint16(out["image_depth"][index], rendering.ray_start, rendering.ray_end)
            )
    return paths


def turntable_frames(
    generator: TriPlaneGenerator, planes: Tensor, ws: Tensor, frames: int, max_yaw: float, batch: int
) -> np.ndarray:
    """Render one sample (planes (1, ...), ws (1, ...)) around a yaw sweep -> (T, H, W, 3) uint8."""
    yaws = [max_yaw * math.sin(2 * math.pi * t / frames) for t in range(frames)]
    images = []
    for start in range(0, frames, batch):
        chunk = yaws[start : start + batch]
        camera = torch.cat([view_camera(generator, yaw, 0.0) for yaw in chunk]).to(ws.device)
        out = generator.render(
            planes.expand(len(chunk), -1, -1, -1, -1), ws.expand(len(chunk), -1, -1), camera
        )
        images.extend(to_uint8(image) for image in out["image"])
    return np.stack(images)


def write_mesh(folder: Path, generator: TriPlaneGenerator, planes: Tensor, outputs: SampleOutputs) -> Path:
    """Marching cubes on the activated density of one sample's planes (1, ...), vertex colours from RGB."""
    from pipelines.core.layers import fast_softplus
    from pipelines.core.mesh import export_mesh, extract_mesh

    rendering = generator.config.rendering

    def density(points: Tensor) -> Tensor:
        raw, _ = generator.query(planes, points[None])
        return fast_softplus(raw + rendering.density_bias)[0, :, 0]

    def color(points: Tensor) -> Tensor:
        _, features = generator.query(planes, points[None])
        return features[0, :, :3]

    half = rendering.box_warp / 2
    mesh = extract_mesh(
        density, outputs.mesh_resolution, (-half, half), outputs.iso, color, device=planes.device
    )
    return export_mesh(mesh, folder / f"mesh.{outputs.mesh}")


def write_sample_batch(
    staging: Path,
    generator: TriPlaneGenerator,
    latents: list[Latent],
    names: list[str],
    outputs: SampleOutputs,
) -> list[dict[str, Any]]:
    """Render and write a batch of samples into `staging/<name>/`; returns one manifest item per sample.

    The batch is rendered together (views share one pass per view); video and mesh are per sample.
    """
    from pipelines.core.video import write_video

    ws = torch.cat([latent.ws for latent in latents])
    planes = generator.triplanes(ws)
    renders = {
        view: generator.render(
            planes, ws, view_camera(generator, *view).to(ws.device).expand(len(latents), -1)
        )
        for view in outputs.views
    }
    items = []
    for index, (latent, name) in enumerate(zip(latents, names, strict=True)):
        folder = staging / name
        sample_planes = planes[index : index + 1]
        files = write_views(folder, renders, index, generator, outputs.depth)
        if outputs.video:
            frames = turntable_frames(
                generator,
                sample_planes,
                latent.ws,
                outputs.video_frames,
                outputs.video_yaw,
                outputs.frame_batch,
            )
            files.append(write_video(frames, folder / f"turntable.{outputs.video}"))
        if outputs.mesh:
            files.append(write_mesh(folder, generator, sample_planes, outputs))
        files.extend(save_latent(folder, latent))
        items.append(
            {
                "prompt": latent.info.get("prompt"),
                "seed": latent.info.get("seed"),
                "dir": name,
                "files": [f.relative_to(staging).as_posix() for f in files],
            }
        )
    return items

"""Video export: H.264 mp4 through imageio-ffmpeg, GIF (Pillow) when ffmpeg is missing or asked for.

imageio and imageio-ffmpeg are imported inside the functions that need them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipelines.core.io import write_with
from pipelines.errors import InvalidInputError

VIDEO_FORMATS = (".mp4", ".gif")


def write_video(
    frames: np.ndarray | torch.Tensor, path: str | Path, fps: float = 24.0, quality: int = 8
) -> Path:
    """Write frames as an mp4 (libx264, yuv420p) or a looping GIF, atomically.

    An mp4 is written when `path` ends in .mp4 and ffmpeg is available; otherwise a GIF is written next to
    it (same stem, .gif suffix). yuv420p needs even sizes, so an odd height or width gains one row or
    column copied from the edge.

    Args:
        frames: (T, H, W, 3) uint8 RGB frames, a numpy array or a tensor.
        path: output path ending in .mp4 or .gif.
        fps: frames per second.
        quality: mp4 quality, 0 (worst) to 10 (best), imageio's scale.

    Returns:
        The path actually written (the .gif path after a fallback).
    """
    path = Path(path)
    array = _as_frames(frames)
    if path.suffix.lower() not in VIDEO_FORMATS:
        raise InvalidInputError(f"{path}: unsupported video format; use .mp4 or .gif")
    if path.suffix.lower() == ".mp4" and ffmpeg_available():
        return write_with(path, lambda tmp: _write_mp4(array, tmp, fps, quality))
    gif_path = path.with_suffix(".gif")
    return write_with(gif_path, lambda tmp: _write_gif(array, tmp, fps))


def ffmpeg_available() -> bool:
    """Whether imageio-ffmpeg and its ffmpeg binary can be found."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def _as_frames(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    array = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or len(array) == 0:
        raise InvalidInputError(
            f"write_video: expected uint8 frames of shape (T, H, W, 3) with T > 0, "
            f"got {array.dtype} {array.shape}"
        )
    return array


def _write_mp4(frames: np.ndarray, path: Path, fps: float, quality: int) -> None:
    import imageio.v2 as imageio

    height, width = frames.shape[1:3]
    even = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    writer = imageio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        quality=quality,
        pixelformat="yuv420p",
        macro_block_size=1,
        ffmpeg_log_level="error",
    )
    with writer:
        for frame in even:
            writer.append_data(frame)


def _write_gif(frames: np.ndarray, path: Path, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(
        path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000.0 / fps), loop=0
    )

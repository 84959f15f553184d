"""Decode any image file a user may have into (H, W, 3) uint8 RGB, or reject it with a reason.

Handles EXIF orientation, grayscale, palette, alpha (composited on white), 16-bit and 32-bit integer and
float images, CMYK, and huge images (JPEGs are decoded at a reduced scale; anything larger than
`max_side` is shrunk). Truncated, corrupt and non-image files raise `RejectedError`, never anything else.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.errors import InvalidInputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


class RejectedError(InvalidInputError):
    """An input item is skipped; the message is the reason recorded in rejected.jsonl."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _to_rgb_array(image: PILImage) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8, alpha composited on white."""
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            peak = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        else:
            peak = 65535.0 if values.max(initial=0.0) > 255 else 255.0
        gray = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def decode_image(
    path: str | Path, max_side: int = 4096, min_side: int = 64, max_pixels: int = 400_000_000
) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: the file.
        max_side: longer side of the result at most (bigger images are shrunk, keeping the aspect).
        min_side: images whose shorter side is below this are rejected as too small.
        max_pixels: images with more pixels than this are rejected without being decoded.

    Returns:
        (H, W, 3) uint8 RGB, upright per its EXIF orientation.

    Raises:
        RejectedError: not an image, corrupt or truncated, too large or too small.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise RejectedError(f"image too large ({width}x{height} pixels)")
                if opened.format == "JPEG":
                    opened.draft("RGB", (max_side, max_side))
                image = ImageOps.exif_transpose(opened)
                image.load()
                if max(image.size) > max_side:
                    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                rgb = _to_rgb_array(image)
    except RejectedError:
        raise
    except UnidentifiedImageError as error:
        raise RejectedError("not an image (unrecognised file format)") from error
    except Image.DecompressionBombError as error:
        raise RejectedError(f"image too large ({_first_line(error)})") from error
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, MemoryError) as error:
        raise RejectedError(f"corrupt or truncated image ({_first_line(error)})") from error
    if min(rgb.shape[:2]) < min_side:
        raise RejectedError(f"image too small ({rgb.shape[1]}x{rgb.shape[0]}, need {min_side} px)")
    return np.ascontiguousarray(rgb)

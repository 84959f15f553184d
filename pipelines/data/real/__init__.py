"""Real text–face data -> the dataset folder: layouts, decoding, alignment, pose, parsing, part phrases.

See docs/prepare.md. The stage function is `pipelines.prepare.prepare_real`.
"""

from pipelines.data.real.config import RealDataConfig
from pipelines.data.real.layouts import LAYOUTS, SourceItem, SourceListing, detect_layout, list_source
from pipelines.data.real.parts import caption_parts, captions_parts

__all__ = [
    "LAYOUTS",
    "RealDataConfig",
    "SourceItem",
    "SourceListing",
    "caption_parts",
    "captions_parts",
    "detect_layout",
    "list_source",
]

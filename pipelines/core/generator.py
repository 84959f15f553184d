"""The text-conditioned tri-plane generator (DESIGN §4)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipelines.core import cameras
from pipelines.core.config import GeneratorConfig
from pipelines.core.layers import fast_softplus
from pipelines.core.networks import MappingNetwork, SuperResolution, TriPlaneBackbone, TriPlaneDecoder
from pipelines.core.renderer import render_rays, sample_triplanes

TRUNCATION_SAMPLES = 1000
"""How many z are mapped to estimate the average w of a prompt."""


class TriPlaneGenerator(nn.Module):
    """z + camera + text embedding -> image, raw render and depth, through a tri-plane radiance field.

    The forward pass returns {'image': (N, 3, R, R) in about [-1, 1], 'image_raw': (N, 3, r, r),
    'image_depth': (N, 1, r, r) in world units, 'image_opacity': (N, 1, r, r)}, R the image resolution and
    r the neural rendering resolution.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.backbone = TriPlaneBackbone(config.synthesis, config.mapping.w_dim)
        self.mapping = MappingNetwork(config.mapping, self.backbone.num_ws)
        self.decoder = TriPlaneDecoder(config.decoder, config.synthesis.plane_channels)
        self.superresolution = SuperResolution(
            config.superresolution, config.decoder.feature_dim, config.image_resolution, config.mapping.w_dim
        )

    @property
    def num_ws(self) -> int:
        """Number of per-layer latents in w+ space."""
        return self.backbone.num_ws

    def frontal_camera(self, n: int = 1) -> Tensor:
        """(n, 25) labels of the default frontal camera, used to condition the mapping."""
        cam = self.config.camera
        label = cameras.orbit_label(0.0, 0.0, cam.radius, cam.pivot, cam.focal)
        return label.to(self.mapping.embed_camera.weight.device).expand(n, -1)

    def map(
        self,
        z: Tensor,
        camera: Tensor,
        text: Tensor,
        truncation_psi: float = 1.0,
        w_avg: Tensor | None = None,
    ) -> Tensor:
        """z (N, z_dim), camera (N, 25), text (N, text_dim) -> ws (N, num_ws, w_dim), truncated to `w_avg`.

        `w_avg` (N or 1, w_dim) is the average w of the prompt (see `mean_w`); it is required when psi != 1.
        """
        ws = self.mapping(z, camera, text)
        if truncation_psi != 1.0:
            if w_avg is None:
                raise ValueError("truncation needs the prompt's average w (mean_w)")
            ws = w_avg[:, None] + truncation_psi * (ws - w_avg[:, None])
        return ws

    @torch.no_grad()
    def mean_w(
        self, text: Tensor, camera: Tensor | None = None, num_samples: int = TRUNCATION_SAMPLES, seed: int = 0
    ) -> Tensor:
        """The average w of each prompt: text (N, text_dim) -> (N, w_dim), over `num_samples` fixed z."""
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(num_samples, self.config.mapping.z_dim, generator=generator).to(text.device)
        camera = self.frontal_camera(1) if camera is None else camera[:1]
        means = []
        for row in text:
            ws = self.mapping(z, camera.expand(num_samples, -1), row[None].expand(num_samples, -1))
            means.append(ws[:, 0].mean(dim=0))
        return torch.stack(means)

    def triplanes(self, ws: Tensor) -> Tensor:
        """ws (N, num_ws, w_dim) -> planes (N, 3, C, P, P)."""
        return self.backbone(ws)

    def query(self, planes: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
        """Raw densities (N, M, 1) and features (N, M, F) of the field at world points (N, M, 3)."""
        features = sample_triplanes(planes, points, self.config.rendering.box_warp)
        return self.decoder(features)

    def sample(self, ws: Tensor, points: Tensor) -> dict[str, Tensor]:
        """The field at world points (N, M, 3).

        Returns {'sigma': activated density (N, M, 1), 'rgb': (N, M, 3) in [0, 1]}.
        """
        raw, features = self.query(self.triplanes(ws), points)
        return {"sigma": fast_softplus(raw + self.config.rendering.density_bias), "rgb": features[..., :3]}

    def synthesis(
        self,
        ws: Tensor,
        camera: Tensor,
        neural_rendering_resolution: int | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Render ws (N, num_ws, w_dim) from cameras (N, 25); `generator` jitters ray samples (training)."""
        return self.render(self.triplanes(ws), ws, camera, neural_rendering_resolution, generator)

    def render(
        self,
        planes: Tensor,
        ws: Tensor,
        camera: Tensor,
        neural_rendering_resolution: int | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Render already computed planes (N, 3, C, P, P) of ws (N, num_ws, w_dim) from cameras (N, 25)."""
        resolution = neural_rendering_resolution or self.config.rendering.neural_rendering_resolution
        origins, directions = cameras.generate_rays(camera.to(ws.dtype), resolution)
        features, depth, opacity = render_rays(
            lambda points: self.query(planes, points), origins, directions, self.config.rendering, generator
        )
        n = ws.shape[0]

        def to_image(values: Tensor) -> Tensor:
            return values.transpose(1, 2).reshape(n, values.shape[-1], resolution, resolution)

        feature_image = to_image(features) * 2 - 1
        image = self.superresolution(feature_image, ws[:, -1])
        return {
            "image": image,
            "image_raw": feature_image[:, :3],
            "image_depth": to_image(depth),
            "image_opacity": to_image(opacity),
        }

    def forward(
        self,
        z: Tensor,
        camera: Tensor,
        text: Tensor,
        conditioning_camera: Tensor | None = None,
        truncation_psi: float = 1.0,
        w_avg: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Map and render; the mapping sees `conditioning_camera` (default: the rendering camera)."""
        conditioning = camera if conditioning_camera is None else conditioning_camera
        ws = self.map(z, conditioning, text, truncation_psi, w_avg)
        return self.synthesis(ws, camera)

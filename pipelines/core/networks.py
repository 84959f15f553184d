"""The generator's parts: mapping network, tri-plane backbone, decoder MLP and super-resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.core.config import DecoderConfig, MappingConfig, SuperResolutionConfig, SynthesisConfig
from pipelines.core.layers import FullyConnected, SynthesisBlock, fast_softplus, normalize_second_moment

CAMERA_LABEL_DIM = 25


class MappingNetwork(nn.Module):
    """(z, camera label, text embedding) -> w, broadcast to every synthesis layer.

    z, the embedded camera and the projected text are each normalised by their second moment, concatenated
    and passed through an MLP with a reduced learning rate (EG3D's mapping with a text input added).
    """

    def __init__(self, config: MappingConfig, num_ws: int) -> None:
        super().__init__()
        self.config = config
        self.num_ws = num_ws
        self.embed_camera = FullyConnected(CAMERA_LABEL_DIM, config.w_dim)
        self.embed_text = FullyConnected(config.text_dim, config.w_dim)
        width = config.z_dim + 2 * config.w_dim
        layers = []
        for index in range(config.num_layers):
            layers.append(
                FullyConnected(
                    width if index == 0 else config.w_dim, config.w_dim, config.lr_multiplier, activation=True
                )
            )
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor, camera: Tensor, text: Tensor) -> Tensor:
        """z (N, z_dim), camera (N, 25), text (N, text_dim) -> ws (N, num_ws, w_dim)."""
        if not self.config.camera_conditioning:
            camera = torch.zeros_like(camera)
        inputs = [
            normalize_second_moment(z),
            normalize_second_moment(self.embed_camera(camera)),
            normalize_second_moment(self.embed_text(text)),
        ]
        w = self.layers(torch.cat(inputs, dim=1))
        return w[:, None].expand(-1, self.num_ws, -1)


class TriPlaneBackbone(nn.Module):
    """A StyleGAN2 'skip' synthesis network whose output image is three feature planes."""

    def __init__(self, config: SynthesisConfig, w_dim: int) -> None:
        super().__init__()
        self.config = config
        resolutions = [2**i for i in range(2, config.plane_resolution.bit_length())]
        channels = {r: min(config.channel_base // r, config.channel_max) for r in resolutions}
        out_channels = 3 * config.plane_channels
        self.const = nn.Parameter(torch.randn(channels[4], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(channels[max(r // 2, 4)], channels[r], out_channels, w_dim, up=r > 4)
            for r in resolutions
        )
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1

    def forward(self, ws: Tensor) -> Tensor:
        """ws (N, num_ws, w_dim) -> planes (N, 3, C, P, P)."""
        # channels-last makes oneDNN's convolutions about twice as fast on CPU
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
        planes = None
        index = 0
        for block in self.blocks:
            x, planes = block(x, planes, ws[:, index : index + block.num_conv + 1])
            index += block.num_conv
        size = self.config.plane_resolution
        return planes.contiguous().reshape(ws.shape[0], 3, self.config.plane_channels, size, size)


class TriPlaneDecoder(nn.Module):
    """Tri-plane feature -> (raw density, features); features pass a widened sigmoid (EG3D's OSGDecoder)."""

    def __init__(self, config: DecoderConfig, plane_channels: int) -> None:
        super().__init__()
        self.hidden = FullyConnected(plane_channels, config.hidden_dim)
        self.output = FullyConnected(config.hidden_dim, 1 + config.feature_dim)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(N, M, C) -> densities (N, M, 1), features (N, M, feature_dim) in about [0, 1]."""
        n, m, c = features.shape
        out = self.output(fast_softplus(self.hidden(features.reshape(n * m, c)))).reshape(n, m, -1)
        return out[..., :1], torch.sigmoid(out[..., 1:]) * (1 + 2e-3) - 1e-3


class SuperResolution(nn.Module):
    """Modulated 2x-upsampling blocks from the rendered features to the final RGB image.

    The first three rendered channels are the raw RGB; each block adds its RGB output onto the upsampled
    image of the previous stage, so the result stays close to the raw render. Every layer is modulated by
    the last w, as in EG3D.
    """

    def __init__(
        self, config: SuperResolutionConfig, feature_dim: int, image_resolution: int, w_dim: int
    ) -> None:
        super().__init__()
        self.input_resolution = image_resolution >> len(config.block_channels)
        widths = (feature_dim, *config.block_channels)
        self.blocks = nn.ModuleList(
            SynthesisBlock(widths[i], widths[i + 1], 3, w_dim, up=True)
            for i in range(len(config.block_channels))
        )

    def forward(self, features: Tensor, w: Tensor) -> Tensor:
        """features (N, F, r, r) in [-1, 1], w (N, w_dim) -> image (N, 3, R, R)."""
        size = self.input_resolution
        if features.shape[-1] != size:
            features = F.interpolate(
                features, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        x = features.contiguous(memory_format=torch.channels_last)
        image = x[:, :3]
        ws = w[:, None].expand(-1, 3, -1)
        for block in self.blocks:
            x, image = block(x, image, ws)
        return image.contiguous()

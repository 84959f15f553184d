"""The dual discriminator: final image + raw render, conditioned on camera and text (DESIGN §4)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipelines.core.config import DiscriminatorConfig
from pipelines.core.layers import Conv2dLayer, FullyConnected, gaussian_blur, normalize_second_moment
from pipelines.core.networks import CAMERA_LABEL_DIM


class DiscriminatorBlock(nn.Module):
    """A residual block that halves the resolution: two 3x3 convs plus a 1x1 skip, scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels)
        self.conv1 = Conv2dLayer(in_channels, out_channels, down=True)
        self.skip = Conv2dLayer(
            in_channels, out_channels, kernel_size=1, bias=False, down=True, activation=False
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, H, W) -> (N, out, H/2, W/2)."""
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


def minibatch_std(x: Tensor, group_size: int) -> Tensor:
    """Append the mean standard deviation over groups of samples as one extra channel: (N, C+1, H, W)."""
    n, c, h, w = x.shape
    group = min(group_size, n)
    while n % group:
        group -= 1
    y = x.reshape(group, n // group, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/G,)
    y = y.reshape(1, n // group, 1, 1, 1).expand(group, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


class DualDiscriminator(nn.Module):
    """Scores (image, raw render) pairs; returns logits and the projected image features.

    The raw render is upsampled to the image size and concatenated (6 channels). The logit is EG3D's camera
    projection ⟨out(h), cmap(c)⟩ / sqrt(dim) plus the text projection ⟨phi(h), psi(t)⟩ / sqrt(dim); phi(h),
    in the text embedding space, also feeds the discriminator's contrastive loss against the captions.
    """

    def __init__(self, config: DiscriminatorConfig, image_resolution: int, text_dim: int) -> None:
        super().__init__()
        self.config = config
        resolutions = [2**i for i in range(image_resolution.bit_length() - 1, 2, -1)]  # R, R/2, ..., 8

        def channels(resolution: int) -> int:
            return min(config.channel_base // resolution, config.channel_max)

        self.from_image = Conv2dLayer(6, channels(image_resolution), kernel_size=1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels(r), channels(r // 2)) for r in resolutions)
        top = channels(4)
        self.epilogue_conv = Conv2dLayer(top + 1, top)
        self.epilogue_fc = FullyConnected(top * 16, top, activation=True)
        self.out = FullyConnected(top, top)
        camera_layers = [FullyConnected(CAMERA_LABEL_DIM, top, activation=True)]
        camera_layers += [FullyConnected(top, top, activation=True) for _ in range(config.mapping_layers - 2)]
        camera_layers.append(FullyConnected(top, top))
        self.camera_mapping = nn.Sequential(*camera_layers)
        self.image_projection = FullyConnected(top, text_dim)
        self.text_projection = FullyConnected(text_dim, text_dim)

    def forward(
        self, image: Tensor, image_raw: Tensor, camera: Tensor, text: Tensor, blur_sigma: float = 0.0
    ) -> tuple[Tensor, Tensor]:
        """image (N, 3, R, R), image_raw (N, 3, r, r), camera (N, 25), text (N, D).

        Returns logits (N,) and projected features phi(h) (N, D).
        """
        size = image.shape[-1]
        if image_raw.shape[-1] != size:
            image_raw = F.interpolate(image_raw, size=(size, size), mode="bilinear", align_corners=False)
        x = torch.cat([gaussian_blur(image, blur_sigma), image_raw], dim=1)
        x = self.from_image(x)
        for block in self.blocks:
            x = block(x)
        x = self.epilogue_conv(minibatch_std(x, self.config.mbstd_group))
        h = self.epilogue_fc(x.flatten(1))
        out = self.out(h)
        logits = torch.zeros(h.shape[0], device=h.device, dtype=h.dtype)
        if self.config.camera_conditioning:
            cmap = self.camera_mapping(normalize_second_moment(camera))
            logits = logits + (out * cmap).sum(dim=1) / math.sqrt(out.shape[1])
        else:
            logits = logits + out.mean(dim=1)
        features = self.image_projection(h)
        if self.config.text_conditioning:
            logits = logits + (features * self.text_projection(text)).sum(dim=1) / math.sqrt(
                features.shape[1]
            )
        return logits, features

"""StyleGAN2-style building blocks with equalised learning rates, in plain PyTorch.

Weights are stored with unit variance and scaled at run time by `lr_multiplier / sqrt(fan_in)`, as in
StyleGAN2/EG3D, so Adam sees every layer at the same scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2.0)
_FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def fast_softplus(x: Tensor) -> Tensor:
    """softplus(x) = relu(x) + log1p(exp(-|x|)); exact, and much faster than aten::softplus on CPU."""
    return torch.relu(x) + torch.log1p(torch.exp(-torch.abs(x)))


def normalize_second_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Scale `x` so that its mean square along `dim` is 1."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU (slope 0.2) with StyleGAN's sqrt(2) gain."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def upsample2x(x: Tensor, bias: Tensor | None = None) -> Tensor:
    """Upsample (N, C, H, W) to (N, C, 2H, 2W) with the separable [1, 3, 3, 1] FIR filter; add `bias` (C,).

    A depthwise stride-2 transposed convolution: each output phase receives taps summing to one, so a
    constant image stays constant (away from the border).
    """
    taps = torch.tensor(_FIR_TAPS, dtype=x.dtype, device=x.device) / 4.0
    kernel = torch.outer(taps, taps)[None, None].expand(x.shape[1], 1, 4, 4)
    bias = None if bias is None else bias.to(x.dtype)
    return F.conv_transpose2d(x, kernel, bias, stride=2, padding=1, groups=x.shape[1])


class FullyConnected(nn.Module):
    """A linear layer with an equalised learning rate and an optional leaky-ReLU."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_features) -> (N, out_features)."""
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


class ModulatedConv2d(nn.Module):
    """A style-modulated 3x3 (or 1x1) convolution, optionally followed by 2x upsampling.

    Modulation scales the input channels by a per-sample style; demodulation rescales each output channel
    to unit expected variance. A single sample folds both into its convolution weight; a batch applies them
    to the activations around one shared weight. Both are the same operation, and each is the faster one
    on CPU for its case. The leaky-ReLU gain is folded into the output scale and bias (the activation is
    positively homogeneous), so the layer makes few passes over its full-resolution output.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 3,
        demodulate: bool = True,
        up: bool = False,
        activation: bool = True,
    ) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.up = up
        self.activation = activation
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """(N, in, H, W) and w (N, w_dim) -> (N, out, H, W), or (N, out, 2H, 2W) when `up`."""
        styles = self.affine(w)  # (N, in)
        weight = self.weight * self.weight_gain
        gain = LRELU_GAIN if self.activation else 1.0
        if self.demodulate:
            # 1 / sqrt(sum over (in, k, k) of (weight * style)^2), per sample and output channel
            out_scale = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt() * gain
        else:
            out_scale = torch.full((x.shape[0], weight.shape[0]), gain, dtype=x.dtype, device=x.device)
        bias = self.bias * gain
        if x.shape[0] == 1:
            sample_weight = weight * styles[0, None, :, None, None] * out_scale[0, :, None, None, None]
            x = F.conv2d(
                x, sample_weight.to(x.dtype), None if self.up else bias.to(x.dtype), padding=self.padding
            )
            if self.up:
                x = upsample2x(x, bias)
        else:
            x = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.padding)
            if self.up:
                x = upsample2x(x)
            x = torch.addcmul(
                bias[None, :, None, None].to(x.dtype), x, out_scale[:, :, None, None].to(x.dtype)
            )
        return F.leaky_relu(x, 0.2) if self.activation else x


class SynthesisBlock(nn.Module):
    """One resolution of a StyleGAN2 'skip' synthesis network.

    Two modulated 3x3 convolutions (the first upsamples unless this is the first block) and a 1x1 output
    layer whose result is added to the upsampled output of the previous block.
    """

    def __init__(
        self, in_channels: int, out_channels: int, out_image_channels: int, w_dim: int, up: bool
    ) -> None:
        super().__init__()
        self.up = up
        self.conv0 = ModulatedConv2d(in_channels, out_channels, w_dim, up=up) if up else None
        self.conv1 = ModulatedConv2d(out_channels if up else in_channels, out_channels, w_dim)
        self.to_image = ModulatedConv2d(
            out_channels, out_image_channels, w_dim, kernel_size=1, demodulate=False, activation=False
        )

    @property
    def num_conv(self) -> int:
        """How many ws the block's convolutions consume (its output layer shares the next block's)."""
        return 2 if self.up else 1

    def forward(self, x: Tensor, image: Tensor | None, ws: Tensor) -> tuple[Tensor, Tensor]:
        """x (N, in, H, W), image (N, out_image, H, W) or None, ws (N, num_conv + 1, w_dim).

        Returns the features and the image at this block's resolution.
        """
        index = 0
        if self.conv0 is not None:
            x = self.conv0(x, ws[:, index])
            index += 1
        x = self.conv1(x, ws[:, index])
        y = self.to_image(x, ws[:, index + 1])
        image = y if image is None else upsample2x(image) + y
        return x, image


def downsample2x(x: Tensor) -> Tensor:
    """Downsample (N, C, H, W) to (N, C, H/2, W/2) with the separable [1, 3, 3, 1] FIR filter (unit gain)."""
    taps = torch.tensor(_FIR_TAPS, dtype=x.dtype, device=x.device) / 8.0
    kernel = torch.outer(taps, taps)[None, None].expand(x.shape[1], 1, 4, 4)
    return F.conv2d(x, kernel, stride=2, padding=1, groups=x.shape[1])


class Conv2dLayer(nn.Module):
    """A plain convolution with an equalised learning rate, optional 2x FIR downsampling and leaky-ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        bias: bool = True,
        down: bool = False,
        activation: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.down = down
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, H, W) -> (N, out, H, W), or (N, out, H/2, W/2) when `down`."""
        gain = LRELU_GAIN if self.activation else 1.0
        weight = (self.weight * (self.weight_gain * gain)).to(x.dtype)
        bias = None if self.bias is None else (self.bias * gain).to(x.dtype)
        if self.down:
            x = F.conv2d(x, weight, padding=self.padding)
            x = downsample2x(x)
            if bias is not None:
                x = x + bias[None, :, None, None]
        else:
            x = F.conv2d(x, weight, bias, padding=self.padding)
        return F.leaky_relu(x, 0.2) if self.activation else x


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Blur (N, C, H, W) with a separable Gaussian of standard deviation `sigma` pixels (identity at 0)."""
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(sigma * 3)))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    taps = taps / taps.sum()
    channels = x.shape[1]
    x = F.pad(
        x, (radius, radius, radius, radius), mode="reflect" if radius < min(x.shape[-2:]) else "replicate"
    )
    x = F.conv2d(x, taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(x, taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)

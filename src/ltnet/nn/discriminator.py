"""The discriminator: CycleGAN's PatchGAN made 3D (SPEC, 'Forward and backward paths').

4x4x4 convs with strides 2, 2, 2, 1, 1; widths 16, 32, 64, 64, then 1; LeakyReLU 0.2; instance
norm on every layer but the first and the last. One real/fake score per patch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

# Below 24 voxels an axis shrinks to one voxel before the last instance norm, which needs two.
MIN_SIZE = 24


class PatchDiscriminator3D(nn.Module):
    """(B, 1, D, H, W) image -> (B, 1, d, h, w) patch scores (raw, for the least-squares loss).

    Axes shorter than 24 voxels are zero-padded to 24.
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 64), in_channels: int = 1) -> None:
        super().__init__()
        strides = [2] * (len(widths) - 1) + [1]
        layers: list[nn.Module] = []
        prev = in_channels
        for i, (c, s) in enumerate(zip(widths, strides, strict=True)):
            layers.append(nn.Conv3d(prev, c, 4, stride=s, padding=1))
            if i > 0:
                layers.append(nn.InstanceNorm3d(c))
            layers.append(nn.LeakyReLU(0.2))
            prev = c
        layers.append(nn.Conv3d(prev, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 5 or image.shape[1] != 1:
            raise ValueError(f"expected an image (B, 1, D, H, W), got {tuple(image.shape)}")
        pads: list[int] = []
        for n in reversed(image.shape[2:]):
            pads += [0, max(0, MIN_SIZE - n)]
        if any(pads):  # any input shape works: small volumes are zero-padded
            image = F.pad(image, pads)
        return self.net(image)

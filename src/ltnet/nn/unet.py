"""The registration generator: VoxelMorph's U-Net (SPEC, 'Forward and backward paths').

moving, fixed (B, 1, D, H, W) -> cat -> (B, 2, ...)
encoder: 3x3x3 stride-2 convs 16, 32, 32, 32            (1/2, 1/4, 1/8, 1/16)
decoder: conv 32 at 1/16, then up + skip + conv 32 at 1/8, 1/4, 1/2
full resolution: up + skip(input) + convs 32, 16, 16
head: 3x3x3 conv to 3 channels, weights ~ N(0, 1e-5): the field starts near zero

``half_res`` (an option, SPEC 'Generators'): the last decoder level stays at 1/2, the "full
resolution" convs and the head run there, and the field is upsampled trilinearly (times 2, in
voxels). About a fifth of the FLOPs; measured against the SPEC layout in bench/speed.py.

``save_memory``: the layers after the last upsampling (the bulk of the activations) are
recomputed in the backward pass instead of stored (gradient checkpointing).

Weights and activations are kept channels-last (``channels_last_3d``): oneDNN's 3D convolutions
run faster in that layout on CPU (bench/speed.py measures it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.blocks import DVF2DDF
from torch.utils.checkpoint import checkpoint

from ltnet.nn.padding import crop_to, pad_to_multiple


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.2, inplace=True))


class VxmUNet(nn.Module):
    """``forward(moving, fixed)`` -> displacement (B, 3, D, H, W) in voxels of the fixed grid.

    Inputs of any spatial size are zero-padded to a multiple of 16 and the field is cropped back.
    """

    def __init__(
        self,
        enc: Sequence[int] = (16, 32, 32, 32),
        dec: Sequence[int] = (32, 32, 32, 32, 32, 16, 16),
        in_channels: int = 2,
        half_res: bool = False,
        save_memory: bool = False,
        integration_steps: int = 0,
    ) -> None:
        super().__init__()
        if integration_steps < 0:
            raise ValueError(f"integration_steps must be 0 or more, got {integration_steps}")
        n = len(enc)
        if len(dec) <= n:
            raise ValueError(f"decoder needs more than {n} widths (one per level, then full resolution)")
        self.multiple = 2**n
        self.encoder = nn.ModuleList()
        prev = in_channels
        for c in enc:
            self.encoder.append(_conv(prev, c, stride=2))
            prev = c
        # skip widths, deepest first, ending with the input itself
        skips = [*list(enc[:-1])[::-1], in_channels]
        self.half_res = half_res
        self.save_memory = save_memory
        self.decoder = nn.ModuleList()
        for i in range(n):
            self.decoder.append(_conv(prev, dec[i]))
            prev = dec[i] + (0 if half_res and i == n - 1 else skips[i])
        self.full_res = nn.Sequential()
        for c in dec[n:]:
            self.full_res.append(_conv(prev, c))
            prev = c
        self.flow = nn.Conv3d(prev, 3, 3, padding=1)
        nn.init.normal_(self.flow.weight, std=1e-5)
        nn.init.zeros_(self.flow.bias)
        # the flow as a stationary velocity field, integrated by scaling and squaring: a
        # diffeomorphism up to discretisation (VoxelMorph's diffeomorphic option)
        self.integrate = None
        if integration_steps:
            with warnings.catch_warnings():  # MONAI notes that it uses torch's grid_sample: intended
                warnings.simplefilter("ignore")
                self.integrate = DVF2DDF(integration_steps, padding_mode="border")
        self.to(memory_format=torch.channels_last_3d)

    def forward(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        return self.displacement(self.velocity(moving, fixed))

    def displacement(self, v: torch.Tensor) -> torch.Tensor:
        """A raw output (B, 3, D, H, W) of :meth:`velocity` -> the displacement in voxels: the
        velocity integrated when ``integration_steps`` > 0, the output itself otherwise."""
        return v if self.integrate is None else self.integrate(v.contiguous().float())

    def velocity(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """The network's raw output (B, 3, D, H, W) in voxels: the stationary velocity field that
        :meth:`forward` integrates when ``integration_steps`` > 0, the displacement itself
        otherwise."""
        if moving.ndim != 5 or moving.shape != fixed.shape or moving.shape[1] != 1:
            raise ValueError(
                f"expected moving and fixed images of one shape (B, 1, D, H, W), got "
                f"{tuple(moving.shape)} and {tuple(fixed.shape)}"
            )
        x, size = pad_to_multiple(torch.cat([moving, fixed], dim=1), self.multiple)
        feats = [x.contiguous(memory_format=torch.channels_last_3d)]
        for block in self.encoder:
            feats.append(block(feats[-1]))
        y = feats.pop()
        for i, block in enumerate(self.decoder):
            y = block(y)
            if self.half_res and i == len(self.decoder) - 1:
                break
            y = F.interpolate(y, scale_factor=2, mode="nearest")
            y = torch.cat([y, feats.pop()], dim=1)
        if self.save_memory and torch.is_grad_enabled():
            # keep only the input of the finest layers and recompute them in the backward pass
            y = checkpoint(self.full_res, y, use_reentrant=False)
        else:
            y = self.full_res(y)
        flow = self.flow(y)
        if self.half_res:
            flow = 2 * F.interpolate(flow, scale_factor=2, mode="trilinear", align_corners=True)
        return crop_to(flow, size)

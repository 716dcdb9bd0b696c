"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020), in 3D.

A discriminator shown a few dozen images memorises them. DiffAugment applies one random policy to
every image D sees, real and fake alike, in D's update and in the generator's adversarial term,
so D cannot tell them apart by the augmentation and the generator's gradient passes through it.
Here the policy is what keeps a brain a brain: an intensity gain, a flip of each axis, and a
shift of up to 1/8 of each axis with zero fill. Each sample draws its own parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAIN = (0.8, 1.25)
SHIFT_FRACTION = 0.125


def diff_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly gained, flipped and shifted copies of ``images`` (B, C, D, H, W); differentiable.

    ``generator`` (on the CPU) draws the parameters: seeded, a run repeats exactly.
    """
    if images.ndim != 5:
        raise ValueError(f"expected images (B, C, D, H, W), got {tuple(images.shape)}")
    out = []
    for img in images:
        p = torch.rand(7, generator=generator)
        gain = GAIN[0] + (GAIN[1] - GAIN[0]) * float(p[0])
        img = img * gain
        flips = [1 + a for a in range(3) if p[1 + a] < 0.5]
        if flips:
            img = img.flip(flips)
        out.append(_shift(img, [(float(q) * 2 - 1) * SHIFT_FRACTION for q in p[4:]]))
    return torch.stack(out)


def _shift(img: torch.Tensor, fractions: list[float]) -> torch.Tensor:
    """``img`` (C, D, H, W) moved by ``fractions`` of each spatial axis (rounded to voxels), zero fill."""
    size = img.shape[1:]
    shifts = [round(f * n) for f, n in zip(fractions, size, strict=True)]
    pad: list[int] = []
    for s in reversed(shifts):
        pad += [max(s, 0), max(-s, 0)]
    padded = F.pad(img, pad)
    starts = [max(-s, 0) for s in shifts]
    return padded[
        :, starts[0] : starts[0] + size[0], starts[1] : starts[1] + size[1], starts[2] : starts[2] + size[2]
    ]

"""Pad volumes to a network's multiple and crop back, so any input shape works."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Zero-pad the end of each spatial axis of ``x`` (B, C, *spatial), 2D or 3D, up to a multiple.

    Returns the padded tensor and the original spatial size, for :func:`crop_to`.
    """
    size = tuple(x.shape[2:])
    pads: list[int] = []
    for s in reversed(size):  # F.pad takes the last axis first
        pads += [0, (-s) % multiple]
    if any(pads):
        x = F.pad(x, pads)
    return x, size  # type: ignore[return-value]


def crop_to(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Crop (B, C, *spatial') back to the spatial size that :func:`pad_to_multiple` returned."""
    return x[(slice(None), slice(None), *(slice(0, int(n)) for n in size))]

"""Pad volumes to a network's multiple and crop back, so any input shape works."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Zero-pad the end of each spatial axis of ``x`` (B, C, D, H, W) up to a multiple.

    Returns the padded tensor and the original (D, H, W), for :func:`crop_to`.
    """
    size = tuple(x.shape[2:])
    pads: list[int] = []
    for s in reversed(size):  # F.pad takes the last axis first
        pads += [0, (-s) % multiple]
    if any(pads):
        x = F.pad(x, pads)
    return x, size  # type: ignore[return-value]


def crop_to(x: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """Crop (B, C, D', H', W') back to the (D, H, W) that :func:`pad_to_multiple` returned."""
    return x[:, :, : size[0], : size[1], : size[2]]

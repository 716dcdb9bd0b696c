"""The generalised Charbonnier penalty of L_trans and L_diff."""

from __future__ import annotations

import torch

EPS = 1e-3
GAMMA = 0.45


def charbonnier(v: torch.Tensor, eps: float = EPS, gamma: float = GAMMA) -> torch.Tensor:
    """``(v^2 + eps^2)^gamma``, elementwise. ``charbonnier(0) = eps^(2 gamma)``, about 0.002."""
    return (v.float() ** 2 + eps**2) ** gamma

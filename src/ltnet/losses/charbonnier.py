"""The generalised Charbonnier penalty of L_trans and L_diff."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ltnet.config import CYCLE_PENALTIES

EPS = 1e-3
GAMMA = 0.45


def charbonnier(v: torch.Tensor, eps: float = EPS, gamma: float = GAMMA) -> torch.Tensor:
    """``(v^2 + eps^2)^gamma``, elementwise. ``charbonnier(0) = eps^(2 gamma)``, about 0.002."""
    return (v.float() ** 2 + eps**2) ** gamma


def residual_penalty(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """rho of L_trans and L_diff: ``charbonnier`` (the paper's) or ``l2`` (the square, floor 0)."""
    if name not in CYCLE_PENALTIES:
        raise ValueError(f"unknown penalty {name!r}: expected one of {', '.join(CYCLE_PENALTIES)}")
    return charbonnier if name == "charbonnier" else torch.square

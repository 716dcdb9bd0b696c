"""Test-time adaptation: refine the correspondence of one (atlas, image) pair before transfer.

Only unsupervised terms are used (no label of the image is read): ``L_sim + lambda2 L_smooth``, the
part of eq. 11 that concerns the forward field alone. Two ways:

- ``field``: optimise the displacement field itself, initialised from G_F's prediction (instance
  optimisation, as the strongest Learn2Reg entries do); a step costs a warp and a loss, no network;
- ``weights``: fine-tune a copy of G_F on this pair; a step costs a network forward and backward.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ltnet import losses
from ltnet.model import LTNet
from ltnet.nn import SpatialTransformer
from ltnet.refine import optimise_field

ADAPT_MODES = ("field", "weights")
DEFAULT_LR = {"field": 0.1, "weights": 1e-4}  # field: voxels per step; weights: G_F's Adam rate


@dataclass(frozen=True)
class AdaptResult:
    """One pair's adapted field and the pair loss (L_sim + 3 L_smooth) before and after."""

    dp: torch.Tensor  # (1, 3, D, H, W) voxels, detached
    loss_before: float
    loss_after: float
    lr: float  # the Adam learning rate used


def pair_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    dp: torch.Tensor,
    warp: SpatialTransformer,
    lncc_kernel: int,
    lambda_reg: float,
) -> torch.Tensor:
    """``L_sim(y, x o dp) + lambda_reg * L_smooth(dp)``: x, y (1, 1, D, H, W); dp (1, 3, D, H, W)."""
    return losses.lncc_loss(y, warp(x, dp), lncc_kernel) + lambda_reg * losses.gradient_loss(dp)


def adapt(
    model: LTNet,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    mode: str = "field",
    lr: float | None = None,
    lncc_kernel: int = 9,
    lambda_reg: float = 3.0,
    dp0: torch.Tensor | None = None,
) -> AdaptResult:
    """Refine dpF = G_F(x, y) for ``steps`` Adam steps; x, y (1, 1, D, H, W) on the model's device.

    ``dp0``: G_F's prediction when the caller has it already (not computed twice). ``lr`` defaults
    to ``DEFAULT_LR[mode]``: 0.1 voxel for ``field``, 1e-4 for ``weights``. The model is not changed."""
    if mode not in ADAPT_MODES:
        raise ValueError(f"unknown adaptation mode {mode!r}: expected one of {', '.join(ADAPT_MODES)}")
    if steps < 0:
        raise ValueError(f"adaptation steps must be 0 or more, got {steps}")
    if lr is not None and not lr > 0:
        raise ValueError(f"adaptation learning rate must be > 0, got {lr}")
    lr = lr or DEFAULT_LR[mode]
    with torch.no_grad():
        # a clone: an inference-mode tensor cannot start an autograd graph
        dp0 = model.g_f(x, y).float() if dp0 is None else dp0.float().clone()
    if mode == "field":  # instance optimisation of the field itself
        fit = optimise_field(x, y, dp0, steps, lr, lncc_kernel, lambda_reg)
        return AdaptResult(fit.dp, fit.loss_before, fit.loss_after, lr)
    warp = SpatialTransformer("bilinear")
    with torch.no_grad():
        before = float(pair_loss(x, y, dp0, warp, lncc_kernel, lambda_reg))
    if steps == 0:
        return AdaptResult(dp0, before, before, lr)
    with torch.enable_grad():
        g = copy.deepcopy(model.g_f).train()
        opt = torch.optim.Adam(g.parameters(), lr=lr)
        for _ in range(steps):
            loss = pair_loss(x, y, g(x, y).float(), warp, lncc_kernel, lambda_reg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            dp = g(x, y).float().detach()
            after = float(pair_loss(x, y, dp, warp, lncc_kernel, lambda_reg))
    return AdaptResult(dp, before, after, lr)

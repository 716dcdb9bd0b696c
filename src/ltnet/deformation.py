"""What a displacement field does to space: its Jacobian, folding, and cycle consistency.

Fields are (B, 3, D, H, W) in voxels, component i along spatial axis i (SPEC, 'Notation'); the
map is ``phi(t) = t + dp(t)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ltnet.losses.consistency import compose


def _check_field(dp: torch.Tensor) -> None:
    if dp.ndim != 5 or dp.shape[1] != 3:
        raise ValueError(f"expected a field (B, 3, D, H, W), got {tuple(dp.shape)}")


def jacobian_determinant(dp: torch.Tensor) -> torch.Tensor:
    """det(I + grad dp) at every voxel, (B, D, H, W); central differences inside, one-sided at
    the border. 1 for a translation, the volume ratio for an affine map, <= 0 where it folds."""
    _check_field(dp)
    dp = dp.double()
    # grads[i][j] = d dp_i / d t_j, each (B, D, H, W)
    grads = [torch.gradient(dp[:, i], dim=(1, 2, 3)) for i in range(3)]
    j = [[grads[i][k] + (1.0 if i == k else 0.0) for k in range(3)] for i in range(3)]
    det = (
        j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1])
        - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0])
        + j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0])
    )
    return det.float()


def deformation_metrics(dp: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, float]:
    """Folding and regularity of one field over ``mask`` (D, H, W) bool (default: everywhere).

    ``folding_percent``: percentage of voxels with det <= 0; ``log_jacobian_std``: standard deviation
    of log det over the voxels where det > 0 (0 for any affine map)."""
    det = jacobian_determinant(dp)[0]
    if mask is None:
        mask = torch.ones_like(det, dtype=torch.bool)
    if mask.shape != det.shape:
        raise ValueError(f"mask {tuple(mask.shape)} is not on the field's grid {tuple(det.shape)}")
    d = det[mask.to(det.device)]
    if d.numel() == 0:
        return {"folding_percent": float("nan"), "log_jacobian_std": float("nan")}
    positive = d[d > 0]
    return {
        "folding_percent": float((d <= 0).double().mean() * 100),
        "log_jacobian_std": float(positive.double().log().std(unbiased=False))
        if positive.numel()
        else float("nan"),
    }


def cycle_error(
    dp_f: torch.Tensor, dp_b: torch.Tensor, warp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """|dp_f(t) + dp_b(t + dp_f(t))| (B, D, H, W), in voxels: how far the forward then backward map
    carries t from itself. 0 for mutually inverse maps."""
    _check_field(dp_f)
    _check_field(dp_b)
    return compose(dp_f, dp_b, warp).norm(dim=1)


def inverse_field(
    dp: torch.Tensor, warp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], iterations: int = 20
) -> torch.Tensor:
    """The displacement u (B, 3, D, H, W), in voxels, of the inverse map: ``t + u(t)`` is the point
    that ``phi(s) = s + dp(s)`` carries to t, so ``u(t) = -dp(t + u(t))``, found by fixed-point
    iteration from ``-dp`` (it converges where dp's Jacobian stays near the identity, as a smooth
    registration field's does). A constant shift inverts exactly to its negative."""
    _check_field(dp)
    u = -dp
    for _ in range(iterations):
        u = -warp(dp, u)
    return u

"""L_sim: ``-LNCC(y, y_bar)``, MONAI's squared local normalised cross-correlation, window 9."""

from __future__ import annotations

import functools

import torch
from monai.losses import LocalNormalizedCrossCorrelationLoss


@functools.lru_cache(maxsize=8)
def _lncc(kernel_size: int) -> LocalNormalizedCrossCorrelationLoss:
    return LocalNormalizedCrossCorrelationLoss(
        spatial_dims=3, kernel_size=kernel_size, kernel_type="rectangular"
    )


def lncc_loss(a: torch.Tensor, b: torch.Tensor, kernel_size: int = 9) -> torch.Tensor:
    """Negative mean squared LNCC of two images (B, 1, D, H, W) with a cubic window.

    Floor -1, at identical images with texture in every window. Computed in float32 with autocast
    off: the window sums of x^2 minus the squared mean cancel, and in bf16 the variance of a flat
    window (the background) comes out a little below zero, so the ratio blows up to -1e7 (seen on
    CUDA, where training then chased it).
    """
    if a.shape != b.shape or a.ndim != 5:
        raise ValueError(
            f"expected two images (B, C, D, H, W) of one shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    with torch.autocast(device_type=a.device.type, enabled=False):
        return _lncc(kernel_size)(a.float(), b.float())


class FixedImageLNCC:
    """:func:`lncc_loss` against one fixed image, for instance optimisation: the same formula (zero
    padding, variances floored at 1e-5 in window sums), equal to MONAI's to float32 rounding, with
    the window sums taken by three 1D average pools and the fixed image's computed once, so each
    call filters three maps of the moving image instead of MONAI's five separable convolutions.
    A 1 mm refinement step (with :func:`ltnet.nn.slab_warp`) is 1.6 s against MONAI's 6.1 s on
    2 cores (README, ``ltnet segment``).

    ``FixedImageLNCC(fixed, k)(moving) == lncc_loss(fixed, moving, k)``; fixed, moving
    (B, 1, D, H, W)."""

    def __init__(self, fixed: torch.Tensor, kernel_size: int = 9) -> None:
        if fixed.ndim != 5 or fixed.shape[1] != 1:
            raise ValueError(f"expected a fixed image (B, 1, D, H, W), got {tuple(fixed.shape)}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        self.k = kernel_size
        with torch.no_grad():
            self.fixed = fixed.detach().float()
            s = _window_sums(torch.cat([self.fixed, self.fixed * self.fixed], 1), kernel_size)
            self.f_sum = s[:, :1]
            self.f_var = (s[:, 1:] - self.f_sum * self.f_sum / kernel_size**3).clamp(min=1e-5)

    def __call__(self, moving: torch.Tensor) -> torch.Tensor:
        if moving.shape != self.fixed.shape:
            raise ValueError(
                f"moving {tuple(moving.shape)} differs from the fixed image {tuple(self.fixed.shape)}"
            )
        k3 = self.k**3
        with torch.autocast(device_type=moving.device.type, enabled=False):
            m = moving.float()
            s = _window_sums(torch.cat([m, m * m, m * self.fixed], 1), self.k)
            m_sum, mm, fm = s[:, :1], s[:, 1:2], s[:, 2:]
            cross = fm - self.f_sum * m_sum / k3
            m_var = (mm - m_sum * m_sum / k3).clamp(min=1e-5)
            return -(cross * cross / (self.f_var * m_var)).mean()


def _window_sums(s: torch.Tensor, k: int) -> torch.Tensor:
    """Sums over the k^3 window around each voxel (zero padding) of each channel of (B, C, D, H, W)."""
    p = k // 2
    for kernel, pad in (((k, 1, 1), (p, 0, 0)), ((1, k, 1), (0, p, 0)), ((1, 1, k), (0, 0, p))):
        s = torch.nn.functional.avg_pool3d(s, kernel, 1, pad, count_include_pad=True)
    return s * float(k**3)

"""Trilinear interpolation of label maps, kept sparse.

Warping a one-hot map (B, L, D, H, W) with ``grid_sample`` costs L channels of work per voxel,
and torch's 3D CPU kernel runs on one thread. But a trilinear sample is a weighted sum of 8 corner
voxels, and each atlas voxel carries one label: a warped label map is, at every voxel, K pairs
(label, weight) with K = 8 after one warp and 64 after two. Scattering those weights onto their
labels gives exactly what warping every one-hot channel would, at a cost that does not grow with
the number of labels; gradients reach the fields through the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

PADDING_MODES = ("border", "zeros")


def trilinear_corners(
    coords: torch.Tensor, shape: Sequence[int], padding: str = "border"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 corners of each sample point and their trilinear weights.

    coords (B, 3, N) voxel coordinates into a grid of ``shape`` (D, H, W). Returns flat corner
    indices (B, 8, N) int64 and weights (B, 8, N) in ``coords``' dtype, differentiable in coords.
    ``border``: points outside read the nearest border voxel (grid_sample's ``border``).
    ``zeros``: corners outside the grid get weight 0 (grid_sample's ``zeros``).
    """
    if padding not in PADDING_MODES:
        raise ValueError(f"unknown padding {padding!r}: expected one of {PADDING_MODES}")
    if coords.ndim != 3 or coords.shape[1] != 3 or len(shape) != 3:
        raise ValueError(f"expected coords (B, 3, N) and a 3D shape, got {tuple(coords.shape)}, {shape}")
    low = coords.detach().floor()
    frac = coords - low  # the gradient flows through here
    low = low.long()
    idx, wts = [], []
    for corner in range(8):
        offset = [(corner >> 2) & 1, (corner >> 1) & 1, corner & 1]
        flat = torch.zeros_like(low[:, 0])
        w = torch.ones_like(frac[:, 0])
        valid = torch.ones_like(low[:, 0], dtype=torch.bool)
        for axis, (o, n) in enumerate(zip(offset, shape, strict=True)):
            i = low[:, axis] + o
            if padding == "zeros":
                valid &= (i >= 0) & (i < n)
            flat = flat * n + i.clamp(0, n - 1)
            w = w * (frac[:, axis] if o else 1 - frac[:, axis])
        idx.append(flat)
        wts.append(w if padding == "border" else w * valid)
    return torch.stack(idx, 1), torch.stack(wts, 1)


@dataclass(frozen=True)
class SoftLabels:
    """A label map, possibly warped: at each voxel, K (label, weight) pairs.

    labels (B, N, K) int64 class indices in [0, num_classes), weights (B, N, K) float, N = D*H*W.
    The pairs of a voxel sit together in memory, which keeps gathers and scatters local.
    """

    labels: torch.Tensor
    weights: torch.Tensor
    shape: tuple[int, int, int]
    num_classes: int

    @classmethod
    def from_one_hot(cls, one_hot: torch.Tensor) -> SoftLabels:
        """From a hard one-hot map (B, L, D, H, W); anything else is refused."""
        if one_hot.ndim != 5:
            raise ValueError(f"expected a one-hot map (B, L, D, H, W), got {tuple(one_hot.shape)}")
        value, index = one_hot.max(dim=1)
        if not bool((value == 1).all()) or not bool((one_hot.sum(dim=1) == 1).all()):
            raise ValueError("expected a hard one-hot map: one channel 1 and the others 0 at every voxel")
        b = one_hot.shape[0]
        return cls(index.view(b, -1, 1), value.view(b, -1, 1), tuple(one_hot.shape[2:]), one_hot.shape[1])

    def warp(self, dp: torch.Tensor) -> SoftLabels:
        """``self o dp`` for a field dp (B, 3, D, H, W) in voxels (border padding): K -> 8K pairs."""
        parts = list(self._warped_parts(dp))
        labels = torch.cat([lab for lab, _ in parts], 2)
        return SoftLabels(labels, torch.cat([w for _, w in parts], 2), self.shape, self.num_classes)

    def warp_one_hot(self, dp: torch.Tensor) -> torch.Tensor:
        """``self.warp(dp).one_hot()`` without holding the 8K pairs at once."""
        out = self._zeros()
        for labels, weights in self._warped_parts(dp):
            out.scatter_add_(2, labels, weights)
        return self._channels_first(out)

    def one_hot(self) -> torch.Tensor:
        """The dense map (B, L, D, H, W): each pair's weight added to its label's channel.

        Returned as a channels-last view (no copy); elementwise losses and sums do not mind.
        """
        return self._channels_first(self._zeros().scatter_add_(2, self.labels, self.weights))

    def _warped_parts(self, dp: torch.Tensor):
        b, n, k = self.labels.shape
        if dp.shape != (b, 3, *self.shape):
            raise ValueError(f"expected a field {(b, 3, *self.shape)}, got {tuple(dp.shape)}")
        # float32 whatever autocast chose: bf16 cannot hold voxel coordinates past 256
        coords = identity_coords(self.shape, dp.device, torch.float32) + dp.float().reshape(b, 3, -1)
        idx, w = trilinear_corners(coords, self.shape, "border")
        for c in range(8):
            at = idx[:, c, :, None].expand(b, n, k)
            yield self.labels.gather(1, at), self.weights.gather(1, at) * w[:, c, :, None]

    def _zeros(self) -> torch.Tensor:
        b, n, _ = self.labels.shape
        return torch.zeros(b, n, self.num_classes, dtype=self.weights.dtype, device=self.weights.device)

    def _channels_first(self, t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 1).view(t.shape[0], self.num_classes, *self.shape)


def identity_coords(shape: Sequence[int], device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Every voxel's coordinates (1, 3, N) of a grid ``shape`` (D, H, W), in C order."""
    axes = [torch.arange(int(s), device=device, dtype=dtype) for s in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij")).reshape(1, 3, -1)


def argmax_labels(labels: torch.Tensor, weights: torch.Tensor, min_weight: float = 1e-6) -> torch.Tensor:
    """The label with the largest summed weight at each point, from K pairs (K, N): (N,) out.

    Label values are arbitrary integers (ids, not class indices). Where every weight is at most
    ``min_weight`` (a point outside the grid with zero padding) the answer is 0, background.
    Most points sit inside one structure, where all K labels agree; only the rest are scored.
    """
    out = labels[0].clone()
    mixed = (labels != labels[:1]).any(0)
    if mixed.any():
        lab, wt = labels[:, mixed], weights[:, mixed]
        # score of candidate j: the weight of every pair with j's label
        score = torch.stack([(wt * (lab == lab[j])).sum(0) for j in range(lab.shape[0])])
        out[mixed] = lab.gather(0, score.argmax(0, keepdim=True))[0]
    total = weights.sum(0)
    return torch.where(total > min_weight, out, torch.zeros_like(out))

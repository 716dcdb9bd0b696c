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
    b, _, n = coords.shape
    # per axis: the two neighbours (B, 2, N) and their 1D weights, then all 8 combinations
    idx, wts = [], []
    for axis, size in enumerate(shape):
        i = torch.stack([low[:, axis], low[:, axis] + 1], 1)
        f = frac[:, axis : axis + 1]
        w = torch.cat([1 - f, f], 1)
        if padding == "zeros":
            w = w * ((i >= 0) & (i < size))
        idx.append(i.clamp_(0, size - 1))
        wts.append(w)
    (iz, iy, ix), (wz, wy, wx) = idx, wts
    h, wd = shape[1], shape[2]
    flat = (iz[:, :, None, None] * h + iy[:, None, :, None]) * wd + ix[:, None, None, :]
    weight = wz[:, :, None, None] * wy[:, None, :, None] * wx[:, None, None, :]
    return flat.reshape(b, 8, n), weight.reshape(b, 8, n)


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
        coords = voxel_coords(self.shape, dp.device).reshape(1, 3, -1) + dp.float().reshape(b, 3, -1)
        idx, w = trilinear_corners(coords, self.shape, "border")
        for c in range(8):
            at = idx[:, c, :, None].expand(b, n, k)
            yield self.labels.gather(1, at), self.weights.gather(1, at) * w[:, c, :, None]

    def _zeros(self) -> torch.Tensor:
        b, n, _ = self.labels.shape
        return torch.zeros(b, n, self.num_classes, dtype=self.weights.dtype, device=self.weights.device)

    def _channels_first(self, t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 1).view(t.shape[0], self.num_classes, *self.shape)


def voxel_coords(shape: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The voxel coordinates (3, X, Y, Z) float32 of every voxel of a grid."""
    axes = [torch.arange(int(n), dtype=torch.float32, device=device) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))


def cube_uniform(labels: torch.Tensor) -> torch.Tensor:
    """(D, H, W) bool: whether the 2x2x2 cube of voxels starting at each voxel holds one label.

    False on the last slice of every axis, where the cube would leave the grid.
    """
    d, h, w = labels.shape
    core = labels[:-1, :-1, :-1]
    same = torch.ones_like(core, dtype=torch.bool)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                if dz or dy or dx:
                    same &= labels[dz : d - 1 + dz, dy : h - 1 + dy, dx : w - 1 + dx] == core
    out = torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
    out[:-1, :-1, :-1] = same
    return out


@dataclass(frozen=True)
class LabelGrid:
    """A label map (D, H, W) with what label transfer reads from it for every batch of points:
    its cubes of one label (:func:`cube_uniform`), its distinct ids and each voxel's class index."""

    labels: torch.Tensor
    uniform: torch.Tensor
    ids: torch.Tensor
    classes: torch.Tensor

    @classmethod
    def of(cls, labels: torch.Tensor) -> LabelGrid:
        ids, classes = torch.unique(labels, return_inverse=True)
        return cls(labels, cube_uniform(labels), ids, classes.reshape(-1))

    def to(self, device: torch.device | str) -> LabelGrid:
        return LabelGrid(*(t.to(device) for t in (self.labels, self.uniform, self.ids, self.classes)))


def trilinear_argmax(grid: LabelGrid, points: torch.Tensor) -> torch.Tensor:
    """The label of the one-hot channel that interpolates highest at each point (zero padding).

    ``grid`` wraps labels (D, H, W) of integer ids; points (3, N) voxel coordinates. Returns ids
    (N,) int64; 0 where no corner lies inside the grid.
    A point whose 8 corners all hold one label takes it directly; only the others (the few near
    a boundary, or outside) are scored corner by corner.
    """
    shape = grid.labels.shape
    flat_labels = grid.labels.reshape(-1)
    low = points.floor().int()  # int32 halves the memory traffic of these passes over every point
    inside = torch.ones(points.shape[1], dtype=torch.bool, device=points.device)
    reach = torch.ones_like(inside)  # some corner lies in the grid
    base = torch.zeros_like(low[0])
    for axis, size in enumerate(shape):
        inside &= (low[axis] >= 0) & (low[axis] < size - 1)
        reach &= (low[axis] >= -1) & (low[axis] < size)
        base = base * size + low[axis].clamp(0, size - 1)
    base = base.long()
    easy = inside & grid.uniform.reshape(-1)[base]
    out = torch.where(reach, flat_labels[base].long(), 0)
    hard = torch.nonzero(~easy & reach).squeeze(1)
    if hard.numel():
        idx, w = trilinear_corners(points[None, :, hard], shape, "zeros")
        # each corner's weight onto its label's column, then the heaviest column
        score = torch.zeros(hard.numel(), len(grid.ids), dtype=w.dtype, device=w.device)
        score.scatter_add_(1, grid.classes[idx[0]].T, w[0].T)
        best, arg = score.max(1)
        out[hard] = torch.where(best > 1e-6, grid.ids[arg].long(), torch.zeros_like(arg))
    return out

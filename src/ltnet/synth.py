"""Synthetic T1 images from real label maps, SynthSeg-style (Billot et al., 2023).

Anatomy is real (a label map); only the intensities are synthetic. Each image is drawn as

1. a Gaussian intensity per tissue class: the class mean and standard deviation are themselves
   drawn from SynthSeg's T1 priors (``prior_means_t1.npy``, ``prior_stds_t1.npy``: row 0 the mean,
   row 1 the spread of each), and every voxel of the class gets mean + std x N(0, 1);
2. a smooth multiplicative bias field: exp of coarse Gaussian noise, upsampled;
3. partial-volume blur: a Gaussian of the target spacing before resampling onto a coarser grid
   (:func:`to_grid`), so each coarse voxel averages the tissues it covers;
4. additive Gaussian noise on the final grid.

Labels outside the brain (skull, scalp, extra-cerebral structures) become background first, so
the images look skull-stripped, like FreeSurfer's ``brainmask.mgz``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ltnet.io.resample import resample

# Brain label (FreeSurfer id) -> column of SynthSeg's T1 priors. SynthSeg groups labels into
# tissue classes; its T1 priors have 25 columns and our copy of the data lacks the file naming
# each column. ltnet's mapping: every brain label of SynthSeg's maps goes to the column whose
# prior mean is nearest that label's median intensity in real FreeSurfer T1 scans (sub-01..03 of
# the project's data, scaled so that cerebral white matter meets the brightest column). Left and
# right share a column (the mean of the two), hence one draw, as in SynthSeg.
PRIOR_CLASS: dict[int, int] = {
    0: 0,
    2: 2, 41: 2, 13: 2, 52: 2, 16: 2, 28: 2, 60: 2,  # white matter, pallidum, stem, ventral DC
    7: 8, 46: 8, 10: 8, 49: 8, 12: 8, 51: 8,  # cerebellar white matter, thalamus, putamen
    3: 10, 42: 10,  # cerebral cortex
    8: 7, 47: 7, 17: 7, 53: 7, 18: 7, 54: 7,  # cerebellar cortex, hippocampus, amygdala
    26: 14, 58: 14, 85: 14,  # accumbens, optic chiasm
    11: 13, 50: 13,  # caudate
    4: 20, 43: 20,  # lateral ventricles
    5: 11, 44: 11, 14: 11,  # inferior lateral ventricles, 3rd ventricle
    15: 12,  # 4th ventricle
    24: 3, 30: 3, 62: 3, 72: 3,  # CSF, vessels, 5th ventricle
}  # fmt: skip
DATA_DIR = Path(__file__).parent / "data"
BRAIN_LABELS: tuple[int, ...] = tuple(sorted(k for k in PRIOR_CLASS if k != 0))


@dataclass(frozen=True)
class Priors:
    """SynthSeg's T1 priors. means, stds: (2, C); row 0 the mean of each class's draw, row 1 its
    spread."""

    means: np.ndarray
    stds: np.ndarray

    @classmethod
    def from_dir(cls, path: str | os.PathLike) -> Priors:
        p = Path(path)
        means, stds = np.load(p / "prior_means_t1.npy"), np.load(p / "prior_stds_t1.npy")
        if means.shape != stds.shape or means.ndim != 2 or means.shape[0] != 2:
            raise ValueError(f"{p}: expected two (2, C) prior arrays, got {means.shape} and {stds.shape}")
        needed = max(PRIOR_CLASS.values()) + 1
        if means.shape[1] < needed:
            raise ValueError(f"{p}: priors have {means.shape[1]} classes, the label mapping needs {needed}")
        return cls(means.astype(np.float64), stds.astype(np.float64))

    @classmethod
    def bundled(cls) -> Priors:
        """The copy shipped with ltnet (``ltnet/data/synthseg_priors``, Apache-2.0, see its NOTICE)."""
        return cls.from_dir(DATA_DIR / "synthseg_priors")


@dataclass(frozen=True)
class SynthConfig:
    """How much each corruption varies. Intensities are in the priors' units (0 to about 255)."""

    # scales the priors' spread (row 1) of each class's mean and std: 1 is SynthSeg's full domain
    # randomisation (contrasts that change from subject to subject, for training a segmenter);
    # a small value gives subjects of one T1 contrast, as one scanner and protocol would
    spread: float = 1.0
    bias_std: float = 0.25  # std of the log bias field's coarse control points
    bias_grid: int = 4  # control points per axis
    noise_std: float = 3.0  # additive noise on the final grid
    blur_fraction: float = 0.5  # partial-volume sigma, as a fraction of the target spacing


def skull_strip(labels: np.ndarray) -> np.ndarray:
    """``labels`` (X, Y, Z) with every non-brain id set to 0 (int32)."""
    labels = np.asarray(labels).astype(np.int32)
    return np.where(np.isin(labels, BRAIN_LABELS), labels, 0).astype(np.int32)


def draw_intensities(
    priors: Priors, rng: np.random.Generator, spread: float = 1.0
) -> dict[int, tuple[float, float]]:
    """One (mean, std) per brain label and background, from the priors (one draw per class), the
    priors' spread scaled by ``spread``."""
    classes = sorted(set(PRIOR_CLASS.values()))
    mean = {c: max(0.0, rng.normal(priors.means[0, c], spread * priors.means[1, c])) for c in classes}
    std = {c: max(0.0, rng.normal(priors.stds[0, c], spread * priors.stds[1, c])) for c in classes}
    return {label: (mean[c], std[c]) for label, c in PRIOR_CLASS.items()}


def bias_field(shape: Sequence[int], cfg: SynthConfig, rng: np.random.Generator) -> torch.Tensor:
    """A smooth positive field (X, Y, Z): exp of coarse Gaussian noise, trilinearly upsampled."""
    coarse = rng.normal(0.0, cfg.bias_std, (1, 1, *[cfg.bias_grid] * 3)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(coarse), size=tuple(shape), mode="trilinear", align_corners=True)
    return torch.exp(up[0, 0])


def synthesize(
    labels: np.ndarray, priors: Priors, rng: np.random.Generator, cfg: SynthConfig = SynthConfig()
) -> np.ndarray:
    """A synthetic T1 image (X, Y, Z) float32 on the label map's own grid (before blur and noise).

    ``labels`` holds brain ids (see :func:`skull_strip`); an id without a prior class is an error.
    """
    labels = np.asarray(labels)
    ids = np.unique(labels)
    unknown = [int(i) for i in ids if int(i) not in PRIOR_CLASS]
    if unknown:
        raise ValueError(f"labels {unknown} have no intensity class; skull_strip() the map first")
    params = draw_intensities(priors, rng, cfg.spread)
    lut_mean = np.zeros(int(ids.max()) + 1, np.float32)
    lut_std = np.zeros_like(lut_mean)
    for i in ids:
        lut_mean[i], lut_std[i] = params[int(i)]
    image = lut_mean[labels] + lut_std[labels] * rng.standard_normal(labels.shape, dtype=np.float32)
    image *= bias_field(labels.shape, cfg, rng).numpy()
    return np.clip(image, 0, None).astype(np.float32)


def to_grid(
    image: np.ndarray,
    src_affine: np.ndarray,
    dst_affine: np.ndarray,
    dst_shape: Sequence[int],
    world_to_src_world: np.ndarray | None,
    rng: np.random.Generator,
    cfg: SynthConfig = SynthConfig(),
) -> np.ndarray:
    """Partial-volume blur, resampling onto a (coarser) grid, then noise: (X, Y, Z) float32."""
    from monai.networks.layers import GaussianFilter

    src_spacing = np.linalg.norm(src_affine[:3, :3], axis=0)
    dst_spacing = float(np.linalg.norm(dst_affine[:3, 0]))
    sigma = [cfg.blur_fraction * dst_spacing / float(s) for s in src_spacing]
    with torch.no_grad():
        blurred = GaussianFilter(3, sigma)(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0, 0]
    out = resample(blurred.numpy(), src_affine, dst_affine, dst_shape, world_to_src_world)
    out = out + rng.normal(0.0, cfg.noise_std, out.shape).astype(np.float32) * (out > 0)
    return np.clip(out, 0, None).astype(np.float32)

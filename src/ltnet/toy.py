"""Small synthetic 'brains' on one grid, for tests and the README quick start.

Each subject is one template label map (ellipsoids carrying FreeSurfer ids: white matter, cortex,
lateral ventricles, hippocampi, brain stem) moved by its own smooth random deformation, with
per-label intensities, smooth texture and noise. Run ``python -m ltnet.toy DIR`` to write
``DIR/images/sub-XX.nii.gz`` and ``DIR/labels/sub-XX.nii.gz``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F

from ltnet.io.atomic import atomic_path

# label id -> mean intensity (T1-like: white matter brightest, ventricles darkest)
INTENSITY = {0: 0.0, 2: 0.85, 41: 0.85, 3: 0.55, 42: 0.55, 4: 0.15, 43: 0.15, 17: 0.5, 53: 0.5, 16: 0.75}


def template_labels(shape: tuple[int, int, int]) -> np.ndarray:
    """The template label map (X, Y, Z), int32."""
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    x, y, z = grid

    def ell(cx, cy, cz, rx, ry, rz):
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1

    lab = np.zeros(shape, np.int32)
    brain = ell(0, 0, 0.05, 0.8, 0.85, 0.75)
    lab[brain] = np.where(x[brain] < 0, 3, 42)  # cortex shell
    inner = ell(0, 0, 0.05, 0.62, 0.68, 0.58)
    lab[inner] = np.where(x[inner] < 0, 2, 41)  # white matter
    lab[ell(-0.18, 0.05, 0.15, 0.1, 0.3, 0.12)] = 4
    lab[ell(0.18, 0.05, 0.15, 0.1, 0.3, 0.12)] = 43
    lab[ell(-0.35, -0.25, -0.2, 0.1, 0.2, 0.1)] = 17
    lab[ell(0.35, -0.25, -0.2, 0.1, 0.2, 0.1)] = 53
    lab[ell(0, -0.35, -0.55, 0.14, 0.14, 0.3)] = 16
    return lab


def random_field(shape: tuple[int, int, int], amplitude: float, rng: np.random.Generator) -> torch.Tensor:
    """A smooth random displacement (1, 3, D, H, W) in voxels: coarse noise upsampled."""
    coarse = torch.from_numpy(rng.normal(0, amplitude, (1, 3, 4, 4, 4)).astype(np.float32))
    return F.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)


def make_subject(
    template: np.ndarray, rng: np.random.Generator, amplitude: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """One subject: (image float32, labels int32), both (X, Y, Z)."""
    from ltnet.nn import SpatialTransformer

    dp = random_field(template.shape, amplitude, rng)
    lab = SpatialTransformer("nearest")(torch.from_numpy(template)[None, None].float(), dp)[0, 0]
    lab = lab.round().numpy().astype(np.int32)
    lut = np.zeros(int(template.max()) + 1, np.float32)
    for k, v in INTENSITY.items():
        lut[k] = v * rng.uniform(0.9, 1.1)
    img = lut[lab]
    texture = F.interpolate(
        torch.from_numpy(rng.normal(0, 0.08, (1, 1, 8, 8, 8)).astype(np.float32)),
        size=template.shape,
        mode="trilinear",
        align_corners=True,
    )[0, 0].numpy()
    img = img + (img > 0) * (texture + rng.normal(0, 0.03, img.shape).astype(np.float32))
    return np.clip(img, 0, None).astype(np.float32), lab


def make_toy_dataset(
    out_dir: str | os.PathLike,
    n_subjects: int = 5,
    shape: tuple[int, int, int] = (32, 40, 32),
    spacing: float = 2.0,
    seed: int = 0,
) -> tuple[list[Path], list[Path]]:
    """Write ``n_subjects`` image/label pairs as NIfTI; return (image paths, label paths)."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    template = template_labels(shape)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -spacing * (np.asarray(shape) - 1) / 2
    images, labels = [], []
    for i in range(1, n_subjects + 1):
        img, lab = make_subject(template, rng)
        for data, sub, dtype in ((img, "images", np.float32), (lab, "labels", np.uint8)):
            path = out_dir / sub / f"sub-{i:02d}.nii.gz"
            nii = nib.Nifti1Image(data.astype(dtype), affine)
            nii.header.set_xyzt_units("mm")
            with atomic_path(path) as tmp:
                nib.save(nii, str(tmp))
            (images if sub == "images" else labels).append(path)
    return images, labels


def main(argv: list[str] | None = None) -> int:
    """``python -m ltnet.toy OUT``: write toy subjects into OUT/images and OUT/labels."""
    p = argparse.ArgumentParser(prog="python -m ltnet.toy", description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder to write images/ and labels/ into")
    p.add_argument("--subjects", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    images, _ = make_toy_dataset(args.out, args.subjects, seed=args.seed)
    print(f"wrote {len(images)} toy subjects to {args.out}/images and {args.out}/labels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

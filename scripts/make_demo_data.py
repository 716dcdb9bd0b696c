"""Regenerate ltnet's bundled demo data from SynthSeg's label maps (Apache-2.0).

    python scripts/make_demo_data.py [--maps ../shared/data/synthseg] [--spacing 3]

Each of the 20 real label maps is skull-stripped, given a synthetic T1 image at 1 mm
(:mod:`ltnet.synth`), aligned affinely (ANTs) to the first subject's image, and resampled onto one
common RAS grid: a 160 x 192 x 160 mm box at ``--spacing`` mm centred on the first subject's
brain. Images are written as uint8, labels by one-hot interpolation and argmax, into
``src/ltnet/data/demo/{images,labels}/demo-XX.nii.gz`` with SynthSeg's licence and a notice.
Deterministic for a given ``--seed`` (ANTs' affine is seeded too).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

from ltnet.io.atomic import atomic_path
from ltnet.io.image import Volume
from ltnet.io.resample import box_affine, resample, resample_labels
from ltnet.prepare import DEFAULT_BOX_MM, working_grid
from ltnet.registration import affine_register
from ltnet.synth import Priors, SynthConfig, skull_strip, synthesize, to_grid

ROOT = Path(__file__).resolve().parents[1]
NOTICE = """\
# Demo data: attribution

`images/` and `labels/` are derived from the label maps `training_seg_01..20.nii.gz` and the T1
intensity priors of SynthSeg (https://github.com/BBillot/SynthSeg), Copyright the SynthSeg
authors (B. Billot et al.), distributed under the Apache License 2.0 (`LICENSE-SynthSeg.txt`).

Changes: non-brain labels set to background; each map aligned affinely to the first and
resampled onto a common {spacing:g} mm grid; the images are synthetic (Gaussian intensities per
tissue drawn from SynthSeg's T1 priors with a fifth of their spread, so that all subjects share
one T1 contrast; a bias field, partial-volume blur and noise), made by
`scripts/make_demo_data.py` in the ltnet repository. The anatomy is real; the intensities are not.
"""


def save(data: np.ndarray, affine: np.ndarray, path: Path, dtype) -> None:
    img = nib.Nifti1Image(data.astype(dtype), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(img, tmp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_maps = Path(os.environ.get("LTNET_DATA", ROOT.parent / "shared" / "data")) / "synthseg"
    ap.add_argument("--maps", type=Path, default=default_maps)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "ltnet" / "data" / "demo")
    ap.add_argument("--spacing", type=float, default=3.0)
    ap.add_argument("--subjects", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spread", type=float, default=0.2, help="fraction of the priors' spread (default 0.2)")
    args = ap.parse_args()
    priors = Priors.from_dir(args.maps / "priors")
    # one T1 contrast across subjects (a fifth of SynthSeg's spread), as from one scanner: the demo
    # registers subjects to an atlas, which intensity randomisation meant for segmenters would defeat
    cfg = SynthConfig(spread=args.spread, bias_std=0.15)
    maps = sorted(args.maps.glob("training_seg_*.nii.gz"))[: args.subjects]
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "labels").mkdir(parents=True, exist_ok=True)
    ref = None
    for n, path in enumerate(maps, start=1):
        nii = nib.load(path)
        affine = nii.affine
        labels = skull_strip(np.asarray(nii.dataobj))
        rng = np.random.default_rng([args.seed, n])
        image = synthesize(labels, priors, rng, cfg)
        if ref is None:
            grid, shape = working_grid(Volume(labels, nii, path), args.spacing, DEFAULT_BOX_MM)
            # registration grid: the same box at 2 mm, the first subject's image as the target
            reg_shape = tuple(round(b / 2.0) for b in DEFAULT_BOX_MM)
            centre = grid @ np.r_[(np.asarray(shape) - 1) / 2, 1.0]
            reg_affine = box_affine(2.0, reg_shape, centre[:3])
            ref = resample(image, affine, reg_affine, reg_shape)
            transform = np.eye(4)
        else:
            transform = affine_register(ref, reg_affine, image, affine, seed=args.seed)
        out_img = to_grid(image, affine, grid, shape, transform, rng, cfg)
        out_lab = resample_labels(labels, affine, grid, shape, transform)
        out_img[out_lab == 0] = 0  # skull-stripped, like FreeSurfer's brainmask.mgz
        out_img = np.clip(out_img / np.percentile(out_img[out_img > 0], 99.5) * 230, 0, 255).round()
        name = f"demo-{n:02d}.nii.gz"
        save(out_img, grid, args.out / "images" / name, np.uint8)
        save(out_lab, grid, args.out / "labels" / name, np.uint8)
        print(f"{name}: {len(np.unique(out_lab)) - 1} labels")
    shutil.copyfile(args.maps / "LICENSE.txt", args.out / "LICENSE-SynthSeg.txt")
    (args.out / "NOTICE.md").write_text(NOTICE.format(spacing=args.spacing))
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What has a trained LT-Net discriminator learned, and does its generator still look at the image?

    python -m bench.investigations.disc_probe [--profile cpu] \
        [--rows ladder-gan-s0 ladder-cycle-s0 ladder-full-s0]

For each benchmark run with L_GAN (``bench/out/accuracy/<profile>/runs/<row>``), on the working
grid of the pool's scans, the mean of the discriminator's patch scores (LSGAN: 1 real, 0 synthetic)
for
- each real pool image ``y`` as it was trained on; moved by a whole voxel and by two (``torch.roll``:
  no resampling, so no blur); mirrored left-right; resampled half a voxel (trilinear blur);
- the atlas ``x`` (one of the seven pool images, so also shown to D as real);
- the atlas warped by the row's own forward field (``y_bar``, what D was trained to reject) and by
  the VoxelMorph row's field (``--reference``), with L_sim (-LNCC, window 9) of each against ``y``;
and how much the row's forward field depends on the image: the mean over image pairs of
``|dpF(y_i) - dpF(y_j)|`` over the mean ``|dpF|`` (0: the same field for every image).

A discriminator that judged realness would score a real brain moved by 2 mm or mirrored as real;
one that has memorised the seven pool images would not. Writes ``disc_probe.json`` beside ``rows/``;
``bench/accuracy.py --report`` quotes it in RESULTS.md.

Measured 2026-11-27 on the cpu profile's gan and cycle rows (both seeds), trans-anat-s0 and
full-s0: each generator's field depends little on the image (dependence 0.02 to 0.34; VoxelMorph's
0.91); each discriminator scores the atlas warped by VoxelMorph's field higher (0.34 to 0.72) than
by its own generator's (0.08 to 0.36), and L_sim is lower there too (-0.37 against -0.24 to -0.25).
The atlas's own scan, a real pool image, scores 0.09 to 0.52 against 0.96 to 1.11 for the others.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np
import torch


def field_dependence(fields: list[torch.Tensor]) -> tuple[float, float]:
    """(mean |dpF| in voxels, mean over pairs of |dpF_i - dpF_j| over it) for fields (1, 3, D, H, W)."""
    size = float(np.mean([f.abs().mean() for f in fields]))
    spread = float(np.mean([(a - b).abs().mean() for a, b in itertools.combinations(fields, 2)]))
    return size, spread / size if size > 0 else float("nan")


def main() -> int:
    from bench.accuracy import REPO, Bench
    from ltnet.cache import PrepCache
    from ltnet.checkpoint import checkpoint_config, load_checkpoint
    from ltnet.config import PrepConfig
    from ltnet.io import atomic_write_text
    from ltnet.losses import lncc_loss
    from ltnet.model import build_models
    from ltnet.trainset import load_train_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--rows", nargs="+", default=["ladder-gan-s0", "ladder-cycle-s0", "ladder-full-s0"])
    ap.add_argument("--reference", default="ladder-voxelmorph-s0", help="a run without L_GAN")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    bench = Bench(args.profile, REPO / "bench" / "out" / "accuracy")
    runs = bench.root / "runs"

    def load(row: str):
        state = load_checkpoint(runs / row / "checkpoint.pt")
        model, disc = build_models(checkpoint_config(state, runs / row))
        model.load_state_dict(state["model"])
        if disc is not None:
            disc.load_state_dict(state["disc"])
            disc.eval()
        return model.eval(), disc, state

    ref, _, ref_state = load(args.reference)
    a = bench.atlas()
    data = load_train_data(
        bench.images[a],
        bench.labels[a],
        list(bench.images.values()),
        PrepConfig.from_dict(ref_state["prep"]),
        PrepCache(bench.cache),
    )
    x = data.atlas.image_tensor("cpu")
    ys = {n: torch.as_tensor(v)[None, None].float() for n, v in zip(bench.images, data.images, strict=True)}
    others = [n for n in ys if n != a]
    half = torch.full((1, 3, *x.shape[2:]), 0.5)  # half a voxel along every axis
    ref_fields = {n: ref.g_f(x, ys[n]) for n in others}  # computed once, compared with every row
    ref_warped = {n: ref.warp(x, f) for n, f in ref_fields.items()}

    out: dict[str, dict] = {}
    for row in args.rows:
        model, disc, _ = load(row)
        if disc is None:
            sys.exit(f"{row}: has no discriminator")

        def d(v: torch.Tensor, disc=disc) -> float:
            return float(disc(v).mean())

        fields = {n: model.g_f(x, ys[n]) for n in others}
        per = {}
        for n in others:
            y = ys[n]
            own, other = model.warp(x, fields[n]), ref_warped[n]
            per[n] = {
                "y": d(y),
                "y_roll1": d(torch.roll(y, (1, 1, 1), (2, 3, 4))),
                "y_roll2": d(torch.roll(y, (2, 2, 2), (2, 3, 4))),
                "y_mirror_lr": d(torch.flip(y, (2,))),  # the working grid is RAS: axis 2 is L-R
                "y_half_voxel": d(model.warp(y, half)),
                "x_own_field": d(own),
                "x_reference_field": d(other),
                "sim_own_field": float(lncc_loss(y, own, 9)),
                "sim_reference_field": float(lncc_loss(y, other, 9)),
            }
        size, dependence = field_dependence(list(fields.values()))
        means = {k: float(np.mean([p[k] for p in per.values()])) for k in next(iter(per.values()))}
        out[row] = {
            "atlas": d(x),
            "mean": means,
            "per_subject": per,
            "field_mean_abs_voxels": size,
            "field_dependence": dependence,
            "row_finished": bench.finished(row),
        }
        print(
            f"{row}: D(atlas) {out[row]['atlas']:.2f}; "
            + ", ".join(f"{k} {v:.2f}" for k, v in means.items())
            + f"; field |dpF| {size:.3f} voxels, dependence on y {out[row]['field_dependence']:.3f}"
        )
    size, dependence = field_dependence(list(ref_fields.values()))
    out[args.reference] = {
        "field_mean_abs_voxels": size,
        "field_dependence": dependence,
        "row_finished": bench.finished(args.reference),
    }
    print(f"{args.reference}: field |dpF| {size:.3f} voxels, dependence on y {dependence:.3f}")
    atomic_write_text(bench.store / "disc_probe.json", json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

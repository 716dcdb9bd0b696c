"""Where does the benchmark's DataAug model lose Dice: on its own synthesised examples, or on real scans?

    python -m bench.investigations.dataaug_check [--profile cpu]

Loads the DataAug run of ``bench/accuracy.py`` (``runs/dataaug``) and, on the working grid, scores
its segmenter (mean Dice over the atlas's structures, background excluded) on
1. the atlas itself (seen in training, unchanged);
2. each pool image's own synthesised example ``(x + psi_i) o dp_i`` against ``x_s o dp_i``, the
   kind of example the segmenter was trained on;
3. each real pool image ``y_i``, against the same labels ``x_s o dp_i`` (the spatial model's label
   transfer, i.e. the voxelmorph variant's answer): agreement, not truth;
and how much of the atlas-to-back-warped-image difference the appearance change explains
(residual: |x + psi - y o dpB| / |x - y o dpB|, summed over voxels, per image and pooled over the
pool; 1 explains nothing, 0 all). A high (2) and a low (3) say the segmenter learned the synthetic
examples but does not carry over to the real scans (too few spatial and appearance draws, or an
appearance model that misses them). Writes ``dataaug_check.json`` beside ``rows/``, tied to the
row by its ``finished`` stamp; ``bench/accuracy.py --report`` quotes it in RESULTS.md.

Measured 2026-11-26 on the cpu profile's first DataAug run (1.6 h budget: 750 steps of each spatial
model and of the appearance model, 9619 segmenter steps; benchmark Dice 0.693 against the truth,
below affine-only's 0.703): atlas 0.970; synthesised examples 0.954 to 0.983; real scans 0.658 to
0.721 against their label transfer; appearance residual 1.03 to 1.13, i.e. the appearance change
was worse than none. MONAI's UNet starts with a random last layer (residual 14 before training);
with it zeroed (``ltnet.dataaug.appearance_net`` since), 300 steps at the same rate reach a
residual of 0.39 (0.31 at 1e-3). That run is superseded.

The rerun with the zeroed start (same budget; 10073 segmenter steps; benchmark Dice 0.718): atlas
0.970; synthesised examples 0.945 to 0.974; real scans 0.775 to 0.856 against their label
transfer (the atlas's own scan, in the pool, 0.970); residual 0.29 to 0.33 for the six other
scans and 0.35 pooled. The atlas's own back-warped copy differs from it only by resampling, so its
per-image ratio (2.21) is large on a tiny denominator; the run's config.json, written before the
residual was pooled, averaged the per-image ratios and says 0.58.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch


def mean_dice(a: np.ndarray, b: np.ndarray, ids) -> float:
    from ltnet.evaluate import dice_per_label

    return float(np.nanmean(dice_per_label(a, b, [i for i in ids if i != 0])))


def main() -> int:
    from bench.accuracy import REPO, Bench
    from ltnet.cache import PrepCache
    from ltnet.dataaug import (
        appearance_change,
        appearance_residual,
        back_warped,
        load_dataaug,
        load_transforms,
        segment_volume,
        synthesise,
    )
    from ltnet.io import atomic_write_text
    from ltnet.trainset import load_train_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    bench = Bench(args.profile, REPO / "bench" / "out" / "accuracy")
    run = bench.root / "runs" / "dataaug"
    model = load_dataaug(run)
    a = bench.atlas()
    data = load_train_data(
        bench.images[a], bench.labels[a], list(bench.images.values()), model.prep, PrepCache(bench.cache)
    )
    atlas, ids = data.atlas, np.asarray(data.atlas.label_ids)
    x = atlas.image_tensor("cpu")
    g_f, g_b, app = load_transforms(run)
    labels = torch.from_numpy(atlas.labels)

    def seg(img: torch.Tensor) -> np.ndarray:
        return ids[segment_volume(model.net, img, model.config.seg_dims).numpy()]

    per_image, psis, backs = {}, [], []
    for name, y_np in zip(bench.images, data.images, strict=True):
        y = torch.from_numpy(y_np)[None, None]
        dp = g_f(x, y)
        back = back_warped(g_b, x, y)
        psi = appearance_change(app, x, back)
        img, lab = synthesise(x, labels, atlas.label_ids, dp, psi)
        lab = lab.numpy()
        per_image[name] = {
            "synthesised": mean_dice(seg(img), lab, ids),
            "real_vs_transfer": mean_dice(seg(y), lab, ids),
            "psi_mean_abs": float(psi.abs().mean()),
            "residual": appearance_residual(x, psi, back),
        }
        psis.append(psi)
        backs.append(back)
    result = {
        "row_finished": bench.finished("dataaug"),
        "atlas_name": a,
        "atlas": mean_dice(seg(x), atlas.labels, ids),
        "images": per_image,
        "residual_pooled": appearance_residual(x, torch.cat(psis), torch.cat(backs)),
    }
    print(f"atlas itself: {result['atlas']:.3f}")
    print("image | synthesised example | real scan vs its label transfer | |psi| mean | residual")
    for name, r in per_image.items():
        print(
            f"{name} | {r['synthesised']:.3f} | {r['real_vs_transfer']:.3f} "
            f"| {r['psi_mean_abs']:.4f} | {r['residual']:.2f}"
        )
    print(f"residual pooled over the pool: {result['residual_pooled']:.2f}")
    out = bench.store / "dataaug_check.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Does LT-Net's backward network help at inference? G_F's field alone against G_F's field averaged
with the inverse of G_B's image-to-atlas field (the two directions as an ensemble).

    python -m bench.investigations.symmetric_inference bench/out/screen/ltnet-noema-nogan-300 ...

The benchmark's atlas, pinned preparation and working grid, as ``recipe_screen``; Dice of the 28
structures on the working grid for each model folder given. G_B registers the image to the atlas
(``dpR = G_B(y, x)``, on the atlas grid: ``y o (id + dpR) ~ x``); its inverse on the image grid is
found by fixed-point iteration ``u = -dpR o (id + u)``, and the symmetric estimate is
``(dpF + u) / 2``. Writes ``bench/results/cpu/screen/symmetric/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from bench.investigations.recipe_screen import NAMES, REPO, load


@torch.inference_mode()
def main() -> int:
    from ltnet.deformation import inverse_field
    from ltnet.evaluate import dice_per_label
    from ltnet.labels import EVAL_LABELS
    from ltnet.segment import load_trained, predict_field, transfer_labels

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of models with a backward network")
    ap.add_argument("--iterations", type=int, default=20, help="fixed-point iterations of the inverse")
    args = ap.parse_args()
    atlas, images, truths = load(REPO / "bench" / "out" / "accuracy" / "cache")
    labels = torch.from_numpy(atlas.labels)
    x = atlas.image_tensor("cpu")
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "symmetric"
    dest.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        model = load_trained(run).model
        if model.g_b is None:
            raise SystemExit(f"{run}: no backward network")
        dice: dict[str, dict[str, float]] = {"forward": {}, "backward_inverted": {}, "symmetric": {}}
        residual = []
        for n, img, truth in zip(NAMES, images, truths, strict=True):
            dp_f = predict_field(model, atlas, img)
            y = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
            dp_r = model.g_b(y, x).float()
            u = inverse_field(dp_r, model.warp, args.iterations)
            # how well u inverts dpR: |u + dpR(p + u)|, voxels
            residual.append(float((u + model.warp(dp_r, u)).norm(dim=1).mean()))
            for key, dp in (("forward", dp_f), ("backward_inverted", u), ("symmetric", 0.5 * (dp_f + u))):
                pred = transfer_labels(labels, atlas.label_ids, dp).numpy()
                dice[key][n] = float(np.nanmean(dice_per_label(pred, truth, EVAL_LABELS)))
        rec = {
            "run": str(run),
            "iterations": args.iterations,
            "inverse_residual_voxels": float(np.mean(residual)),
            **{k: {"subjects": v, "mean": float(np.mean(list(v.values())))} for k, v in dice.items()},
        }
        rec["symmetric_minus_forward"] = {n: dice["symmetric"][n] - dice["forward"][n] for n in NAMES}
        (dest / f"{run.name}.json").write_text(json.dumps(rec, indent=2) + "\n")
        gain = np.array(list(rec["symmetric_minus_forward"].values()))
        print(
            f"{run.name}: forward {rec['forward']['mean']:.4f}, "
            f"G_B inverted {rec['backward_inverted']['mean']:.4f}, "
            f"symmetric {rec['symmetric']['mean']:.4f} ({gain.mean():+.4f}, {(gain > 0).sum()}/6 improved; "
            f"inverse residual {rec['inverse_residual_voxels']:.3f} voxel)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

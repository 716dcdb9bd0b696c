"""Several atlases (issue 32): which fusion rule, how many adaptation steps, on which grid?

    python -m bench.investigations.fusion_screen [--adapt 0 25] [--refine-steps 0]

For each test subject of the cpu profile, the atlases of the ``jlf-5`` row (the chosen atlas, then
the other subjects in name order, never the subject itself) are carried to it by ladder-full-s0's
networks (trained with the chosen atlas alone, so no label of a test subject was read in
training) on the pinned preparation, each field adapted for N steps on the working grid; then the
first k atlases' labels are fused by each rule (``ltnet.segment.fuse_to_native``) and scored in
the subject's native space on the SPEC's 28 structures, for k = 1..5. With ``--refine-spacing``,
the fields are also carried to that grid and refined there (``--refine-steps``) and fused there.
Seconds are medians per atlas (network, adaptation, refinement) and per fusion. Writes
``bench/results/cpu/screen/fusion/<tag>.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from bench.accuracy import REPO, Bench

K_MAX = 5


@torch.no_grad()  # not inference mode: adaptation needs autograd inside
def main() -> int:
    from ltnet.adapt import adapt
    from ltnet.atlas import load_atlases
    from ltnet.cache import PrepCache
    from ltnet.cohort import PreparedScan
    from ltnet.config import SegmentConfig
    from ltnet.evaluate import dice_per_label
    from ltnet.io import load_image, load_labels
    from ltnet.labels import EVAL_LABELS
    from ltnet.prepare import to_working_grid
    from ltnet.segment import finer_atlas, fuse_to_native, load_trained, predict_fields, refine_on, scan_on

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapt", type=int, nargs="+", default=[0, 25], help="adaptation steps to compare")
    ap.add_argument("--refine-spacing", type=float, default=None, help="also refine and fuse on this grid")
    ap.add_argument("--refine-steps", type=int, default=5)
    ap.add_argument("--rules", nargs="+", default=["vote", "local"])
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()
    root = REPO / "bench" / "out" / "accuracy"
    bench = Bench("cpu", root)
    bench.pin_preparation()
    trained = load_trained(root / "cpu" / "runs" / "ladder-full-s0")
    prep, model = trained.prep, trained.model
    cache = PrepCache(bench.cache)
    names = list(bench.images)
    atlases = load_atlases(
        [bench.images[n] for n in names], [bench.labels[n] for n in names], prep, cache, trained.atlas
    )
    by_name = dict(zip(names, atlases, strict=True))
    cfg = SegmentConfig(refine_spacing=args.refine_spacing, refine_steps=args.refine_steps)
    fines = {n: finer_atlas(a, cfg, prep) for n, a in by_name.items()} if args.refine_spacing else {}
    dice: dict[str, dict[str, float]] = {}
    secs: dict[str, list[float]] = {}
    for n in bench.test_names():
        vol = load_image(bench.images[n])
        truth = load_labels(bench.labels[n]).data
        prepared = to_working_grid(
            vol, trained.atlas.image, trained.atlas.labels, trained.atlas.affine, prep, cache
        )
        item = PreparedScan(0, vol, prepared.image, prepared.transform)
        chosen = [by_name[m] for m in bench.atlases_for(n, K_MAX)]
        t0 = time.perf_counter()
        dps = predict_fields(model, chosen, prepared.image, symmetric=True)
        secs.setdefault("network_per_atlas", []).append((time.perf_counter() - t0) / len(chosen))
        y = torch.from_numpy(prepared.image)[None, None]
        for steps in args.adapt:
            fields = []
            for i, a in enumerate(chosen):
                t0 = time.perf_counter()
                dp = (
                    adapt(model, a.image_tensor(), y, steps, "field", dp0=dps[i : i + 1]).dp
                    if steps
                    else dps[i : i + 1]
                )
                secs.setdefault(f"adapt{steps}_per_atlas", []).append(time.perf_counter() - t0)
                fields.append((a, dp))
            grids = {"working": (fields, y)}
            if fines:
                fine_fields = []
                for a, dp in fields:
                    t0 = time.perf_counter()
                    dpf, _ = refine_on(fines[a.name], a, dp, item, cfg)
                    secs.setdefault("refine_per_atlas", []).append(time.perf_counter() - t0)
                    fine_fields.append((fines[a.name], dpf))
                grids[f"{args.refine_spacing:g}mm"] = (fine_fields, scan_on(fine_fields[0][0], item, "cpu"))
            for grid, (ff, scan) in grids.items():
                for k in range(1, K_MAX + 1):
                    for rule in args.rules if k > 1 else ["vote"]:
                        t0 = time.perf_counter()
                        lab, _, _ = fuse_to_native(
                            [a for a, _ in ff[:k]],
                            [d for _, d in ff[:k]],
                            scan,
                            prepared.transform,
                            vol,
                            rule,
                        )
                        secs.setdefault(f"fusion_{grid}_k{k}", []).append(time.perf_counter() - t0)
                        key = f"adapt{steps}/{grid}/k{k}/{rule}"
                        dice.setdefault(key, {})[n] = float(
                            np.nanmean(dice_per_label(lab, truth, EVAL_LABELS))
                        )
                        print(f"{n} {key}: {dice[key][n]:.4f}", flush=True)
    summary = {k: float(np.mean(list(v.values()))) for k, v in dice.items()}
    rec = {
        "model": "ladder-full-s0",
        "adapt": args.adapt,
        "refine_spacing": args.refine_spacing,
        "refine_steps": args.refine_steps,
        "dice": dice,
        "mean_dice": summary,
        "median_seconds": {k: float(np.median(v)) for k, v in secs.items()},
    }
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "fusion"
    dest.mkdir(parents=True, exist_ok=True)
    tag = args.tag or "adapt" + "-".join(map(str, args.adapt)) + (
        f"-refine{args.refine_spacing:g}mm" if fines else ""
    )
    Path(dest / f"{tag}.json").write_text(json.dumps(rec, indent=2) + "\n")
    for k, v in summary.items():
        print(f"{k:32s} {v:.4f}")
    for k, v in rec["median_seconds"].items():
        print(f"{k:32s} {v:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

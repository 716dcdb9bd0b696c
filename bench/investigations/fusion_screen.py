"""Several atlases (issue 32): which fusion rule and settings, how many adaptation steps?

    python -m bench.investigations.fusion_screen --adapt 25 --variants vote local:2:2 local:1:2 --ks 2 5

For each test subject of the cpu profile, the atlases of the ``jlf-5`` row (the chosen atlas, then
the other subjects in name order, never the subject itself) are carried to it by ladder-full-s0's
networks (trained with the chosen atlas alone, so no label of a test subject was read in
training) on the pinned preparation, both directions, each field adapted for ``--adapt`` steps on
the 2 mm working grid (the fields are kept under bench/out/screen/fusion-fields, so that a later
screen of other rules reuses them); then the first k atlases' labels are fused on the working grid
by each variant (``rule[:radius:beta]``, ``ltnet.segment.fuse_to_native``) and scored in the
subject's native space on the SPEC's 28 structures. Writes
``bench/results/cpu/screen/fusion/<tag>.json`` and prints each mean Dice.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from bench.accuracy import REPO, Bench

K_MAX = 5


def parse_variant(text: str) -> tuple[str, int | None, float | None]:
    rule, *rest = text.split(":")
    return rule, int(rest[0]) if rest else None, float(rest[1]) if len(rest) > 1 else None


def main() -> int:
    from ltnet.adapt import adapt
    from ltnet.atlas import load_atlases
    from ltnet.cache import PrepCache
    from ltnet.evaluate import dice_per_label
    from ltnet.io import load_image, load_labels
    from ltnet.labels import EVAL_LABELS
    from ltnet.prepare import to_working_grid
    from ltnet.segment import fuse_to_native, load_trained, predict_fields

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapt", type=int, default=25, help="adaptation steps of each field")
    ap.add_argument("--variants", nargs="+", default=["vote", "local"], help="rule[:radius:beta]")
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 5], help="numbers of atlases to fuse")
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
    store = REPO / "bench" / "out" / "screen" / "fusion-fields" / f"adapt{args.adapt}"
    store.mkdir(parents=True, exist_ok=True)
    dice: dict[str, dict[str, float]] = {}
    for n in bench.test_names():
        vol = load_image(bench.images[n])
        truth = load_labels(bench.labels[n]).data
        a0 = trained.atlas
        prepared = to_working_grid(vol, a0.image, a0.labels, a0.affine, prep, cache)
        chosen = [by_name[m] for m in bench.atlases_for(n, K_MAX)]
        y = torch.from_numpy(prepared.image)[None, None]
        fields = []
        for a in chosen:
            f = store / f"{a.name}_to_{n}.pt"
            if not f.exists():
                with torch.no_grad():
                    dp = predict_fields(model, [a], prepared.image, symmetric=True)
                    dp = (
                        adapt(model, a.image_tensor(), y, args.adapt, "field", dp0=dp).dp
                        if args.adapt
                        else dp
                    )
                torch.save(dp.clone(), f)
            fields.append(torch.load(f, weights_only=True))
        for k in args.ks:
            for v in args.variants:
                rule, radius, beta = parse_variant(v)
                lab, _, _ = fuse_to_native(
                    chosen[:k], fields[:k], y, prepared.transform, vol, rule, radius, beta
                )
                key = f"k{k}/{v}"
                dice.setdefault(key, {})[n] = float(np.nanmean(dice_per_label(lab, truth, EVAL_LABELS)))
                print(f"{n} {key}: {dice[key][n]:.4f}", flush=True)
    summary = {k: float(np.mean(list(v.values()))) for k, v in dice.items()}
    rec = {
        "model": "ladder-full-s0",
        "adapt": args.adapt,
        "grid": "working (2 mm)",
        "dice": dice,
        "mean_dice": summary,
    }
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "fusion"
    dest.mkdir(parents=True, exist_ok=True)
    tag = args.tag or f"adapt{args.adapt}"
    Path(dest / f"{tag}.json").write_text(json.dumps(rec, indent=2) + "\n")
    for k, v in summary.items():
        print(f"{k:24s} {v:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

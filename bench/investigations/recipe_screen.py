"""Screen training recipes on the real brains: short in-process runs, Dice on the working grid.

    python -m bench.investigations.recipe_screen --tag vxm-300 --steps 300 --set variant=voxelmorph
    python -m bench.investigations.recipe_screen --tag paper-300 --steps 300 --set recipe=paper

The benchmark's atlas (sub-03) and its pinned preparation (``bench/results/prep-2mm.json``) at
2 mm with the half-resolution field, as the cpu profile of ``bench/accuracy.py``; the pool is the
six other brains (never the atlas; their labels are not read for training). After training, the
atlas labels are carried along G_F's field onto each subject's working grid and scored there
against its aseg resampled (nearest) through the same pinned transform: cheaper than the
benchmark's native-space scoring, and read only for ranking recipes. ``--set`` overrides any
``TrainConfig`` field (``name=value``, parsed as JSON where it parses). Writes
``bench/results/cpu/screen/<tag>.json``: Dice per subject, mean |dpF| and the losses of the last
steps. Two screens side by side on a 2-core machine: ``OMP_NUM_THREADS=1`` for each (two
processes of two threads each slowed a step 15-fold here).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))
ATLAS = "sub-03"
NAMES = ["sub-01", "sub-02", "sub-04", "sub-05", "sub-06", "bert"]


def paths(name: str) -> tuple[Path, Path]:
    d = DATA / "brains" / name
    return (d / "brain.mgz", d / "aseg.mgz") if name == "bert" else (d / "brainmask.mgz", d / "aseg.mgz")


def load(cache_dir: Path):
    """The atlas, the prepared pool (N, X, Y, Z) and each subject's truth on the working grid."""
    from ltnet.atlas import load_atlas
    from ltnet.cache import PrepCache
    from ltnet.config import PrepConfig
    from ltnet.io import load_image, load_labels
    from ltnet.io.resample import resample_labels
    from ltnet.prepare import prepare_scan

    pins = json.loads((REPO / "bench" / "results" / "prep-2mm.json").read_text())
    assert pins["atlas"] == ATLAS
    atlas = load_atlas(*paths(ATLAS), PrepConfig(spacing=2.0))
    cache = PrepCache(cache_dir)
    images, truths = [], []
    for n in NAMES:
        img, lab = paths(n)
        t = np.asarray(pins["transforms"][n])
        p = prepare_scan(load_image(img), atlas.image, atlas.labels, atlas.affine, cache=cache, transform=t)
        seg = load_labels(lab)
        images.append(p.image)
        truths.append(resample_labels(seg.data, seg.affine, atlas.affine, atlas.shape, p.transform))
    return atlas, np.stack(images), truths


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def score(model, atlas, images, truths) -> dict:
    from ltnet.evaluate import dice_per_label
    from ltnet.labels import EVAL_LABELS
    from ltnet.segment import predict_field, transfer_labels

    out, mags = {}, []
    labels = torch.from_numpy(atlas.labels)
    for n, img, truth in zip(NAMES, images, truths, strict=True):
        dp = predict_field(model, atlas, img)
        mags.append(float(dp.norm(dim=1).mean()))
        pred = transfer_labels(labels, atlas.label_ids, dp).numpy()
        out[n] = float(np.nanmean(dice_per_label(pred, truth, EVAL_LABELS)))
    return {"subjects": out, "mean": float(np.mean(list(out.values()))), "dpF_mean_abs": float(np.mean(mags))}


def main() -> int:
    from ltnet.atlas import Atlas
    from ltnet.config import NetConfig, TrainConfig
    from ltnet.segment import load_trained
    from ltnet.train import train
    from ltnet.trainset import TrainData

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "screen")
    ap.add_argument(
        "--init",
        type=Path,
        help="start from this run's weights (ltnet train --init): paired warm-start screens",
    )
    args = ap.parse_args()

    atlas, images, truths = load(REPO / "bench" / "out" / "accuracy" / "cache")
    over = dict(s.split("=", 1) for s in args.set)
    over = {k: parse_value(v) for k, v in over.items()}
    net = NetConfig(half_res=True, **{k[4:]: over.pop(k) for k in list(over) if k.startswith("net.")})
    known = {f.name for f in fields(TrainConfig)}
    bad = set(over) - known
    if bad:
        raise SystemExit(f"unknown TrainConfig fields {sorted(bad)}")
    recipe = over.pop("recipe", None)
    base = TrainConfig.for_recipe(recipe) if recipe else TrainConfig()
    cfg = replace(base, steps=args.steps, seed=args.seed, checkpoint_every=args.steps, net=net, **over)
    data = TrainData(Atlas.from_arrays(atlas.image, atlas.labels, atlas.affine), images)
    run = args.out / args.tag
    for f in ("checkpoint.pt", "log.jsonl"):
        (run / f).unlink(missing_ok=True)
    t0 = time.perf_counter()
    ckpt = train(cfg, data, run, progress=False, init=args.init)
    secs = time.perf_counter() - t0
    model = load_trained(ckpt.parent).model
    result = score(model, atlas, images, truths)
    log = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]
    losses = [r for r in log if "sim" in r]
    last = {k: float(np.median([r[k] for r in losses[-20:] if k in r])) for k in losses[-1] if k != "step"}
    rec = {
        "tag": args.tag,
        "config": cfg.to_dict(),
        "init": str(args.init) if args.init else None,
        "dice": result,
        "train_seconds": secs,
        "last_20_steps_median": last,
        "diagnostics": [r for r in log if "diag" in r][-5:],
    }
    dest = REPO / "bench" / "results" / "cpu" / "screen"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{args.tag}.json").write_text(json.dumps(rec, indent=2) + "\n")
    print(f"{args.tag}: Dice {result['mean']:.4f}  |dpF| {result['dpF_mean_abs']:.3f}  {secs / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pre-train the model that ``ltnet demo`` ships with, from the bundled demo data.

    python scripts/pretrain_demo_model.py --steps 1500 [--work bench/out/demo_pretrain]

Runs the product's own ``ltnet train`` (full LT-Net, SPEC layout) on the demo's unlabelled pool
(every bundled image but the two held-out subjects) with the atlas ``select-atlas`` picks, exactly
as ``ltnet demo`` does; ``--resume`` continues an interrupted run. The checkpoint is then made
small for shipping: no optimiser state, weights and atlas image in float16, labels in uint8,
image paths reduced to file names, and written to ``src/ltnet/data/demo/model.pt``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ltnet.atlas import select_atlas
from ltnet.checkpoint import load_checkpoint, save_checkpoint
from ltnet.cli import main as ltnet
from ltnet.demo import DEMO_DIR, HELD_OUT, MODEL_NAME, demo_data

ROOT = Path(__file__).resolve().parents[1]


def shrink(state: dict) -> dict:
    half = {k: v.half() if torch.is_floating_point(v) else v for k, v in state["model"].items()}
    disc = state.get("disc")
    if disc is not None:
        disc = {k: v.half() if torch.is_floating_point(v) else v for k, v in disc.items()}
    atlas = dict(state["atlas"])
    atlas["image"] = atlas["image"].half()
    if int(atlas["labels"].max()) < 256 and int(atlas["labels"].min()) >= 0:
        atlas["labels"] = atlas["labels"].to(torch.uint8)
    return {
        **state,
        "model": half,
        "disc": disc,
        "opt_g": None,
        "opt_d": None,
        "atlas": atlas,
        "image_paths": [Path(p).name for p in state.get("image_paths", [])],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "demo_pretrain")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    images, labels = demo_data()
    pool = images[:-HELD_OUT]
    atlas, _ = select_atlas(pool)
    atlas_labels = labels[images.index(atlas)]
    argv = ["train", "--atlas", str(atlas), "--atlas-labels", str(atlas_labels), "--images", *map(str, pool)]
    argv += ["--out", str(args.work), "--steps", str(args.steps), "--prealigned", "--no-cache"]
    argv += ["--device", args.device, "--checkpoint-every", "50"] + (["--resume"] if args.resume else [])
    code = ltnet(argv)
    if code:
        return code
    out = save_checkpoint(DEMO_DIR / MODEL_NAME, shrink(load_checkpoint(args.work)))
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pre-train the model that ``ltnet demo`` ships with, from the bundled demo data.

    python scripts/pretrain_demo_model.py [--steps 2000] [--recipe ltnet]

On the demo's unlabelled pool (every bundled image but the two held-out subjects), with the atlas
``select-atlas`` picks, as ``ltnet demo`` does, with ``--half-res`` (the demo's CPU budget):
``ltnet train --variant full --steps N`` with the given recipe. ltnet's recipe warms both
generators up on their own similarity before the cycle and adversarial terms ramp in, so one
stage suffices (the paper's recipe, from scratch, keeps the forward field at zero: see
``bench/RESULTS.md``). The run resumes if interrupted. The checkpoint is then made small for
shipping (the segmenting weights only, no optimiser state, weights and atlas image in float16,
labels in uint8, image paths reduced to file names) and written to
``src/ltnet/data/demo/model.pt``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ltnet.checkpoint import generator_state, load_checkpoint, save_checkpoint
from ltnet.cli import main as ltnet
from ltnet.demo import DEMO_DIR, MODEL_NAME, demo_split

ROOT = Path(__file__).resolve().parents[1]


def shrink(state: dict) -> dict:
    weights = generator_state(state)  # the moving average where the recipe keeps one
    half = {k: v.half() if torch.is_floating_point(v) else v for k, v in weights.items()}
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
        "model_ema": None,
        "ema_count": 0,
        "disc": disc,
        "opt_g": None,
        "opt_d": None,
        "atlas": atlas,
        "image_paths": [Path(p).name for p in state.get("image_paths", [])],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2000, help="full LT-Net steps (default 2000)")
    ap.add_argument("--recipe", choices=["ltnet", "paper"], default="ltnet", help="training recipe")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "demo_pretrain")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    split = demo_split()
    out = args.work / f"full-{args.recipe}"
    argv = ["train", "--atlas", str(split.atlas), "--atlas-labels", str(split.atlas_labels), "--images"]
    argv += [str(p) for p in split.pretrain]
    argv += ["--prealigned", "--no-cache", "--half-res", "--device", args.device, "--checkpoint-every", "50"]
    argv += ["--variant", "full", "--recipe", args.recipe, "--steps", str(args.steps), "--out", str(out)]
    argv += ["--resume"] if (out / "checkpoint.pt").exists() else []
    if ltnet(argv):
        raise SystemExit(f"ltnet train into {out} failed")
    dest = save_checkpoint(DEMO_DIR / MODEL_NAME, shrink(load_checkpoint(out)))
    print(f"{dest}: {dest.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

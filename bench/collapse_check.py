"""Does the full LT-Net objective keep a registration field, or pull it back to zero?

    python bench/collapse_check.py --init bench/out/demo_pretrain/both.pt --ramp 200 --steps 250

On the bundled demo data (pool: all but the two held-out subjects, atlas demo-01 as the demo picks
it), trains the full variant with the SPEC's eq. 11, starting from ``--init`` (a checkpoint with
G_F, and G_B if it has one: ``scripts/pretrain_demo_model.py`` writes ``both.pt``), with the cycle
and regularisation weights (lambda1, lambda2) ramped linearly from 0 to the SPEC's values over
``--ramp`` steps (0: no ramp). Every 20 steps it prints the mean of each loss term; L_smooth near 0
means the forward field has collapsed to the identity. Writes the log to
bench/out/collapse_check/<tag>.json.

Measured 2026-11-26 (2 cores, half-res, 3 mm), from G_F (VoxelMorph, 2000 steps) and G_B (1000
steps), ramp 200: the field survived while the weights were below about 0.6 (L_smooth 0.005 to
0.016), but the adversarial term deformed it away from the image (L_sim from -0.43 to -0.33), and
once the weights neared their full values it collapsed (L_smooth 0, discriminator loss 0.006 by
step 180), as without a ramp.

Then (2026-11-26) the reconstruction was changed to compose the two maps and resample the atlas
once (``ltnet.model``; the second resampling's blur had cost 10 * 0.004 to 10 * 0.013 per field
of 0.05 to 1 voxel). From the same two generators, no ramp, 120 steps: the field still
oscillated (L_smooth 0.0013 at step 20, 0.0001 at 40, 0.0072 at 100, 0.0015 at 120), held-out
Dice on the demo grid (35 labels) 0.547 at the start, 0.519 at step 50, 0.527 at 100 (affine:
0.519). The cycle penalties are now dominated by L_trans (0.03 to 0.12, times 3) and L_anat (0.002
to 0.05, times 3): both are L1-like in the cycle's residual (Charbonnier with gamma 0.45, soft
Dice), and G_B's inverse is coarse. With G_F frozen, G_B alone took L_trans from 0.169 to 0.137
in 60 steps. A non-zero field pays for G_B's error; the identity does not. Two further G_B
updates after every joint step (same optimiser) did not help: L_smooth 0.0012 at step 20, 0.0000
at step 40 (L_sim -0.388 to -0.350). On the real brains at 2 mm (bench/accuracy.py's curve run,
from scratch) the field stayed at zero for all 67 steps run (L_smooth below 5e-6, L_trans at its
floor, the discriminator's loss 0.39 to 0.62).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ltnet.checkpoint import checkpoint_config, load_checkpoint
from ltnet.config import TrainConfig
from ltnet.demo import HELD_OUT, demo_data
from ltnet.model import build_models
from ltnet.train import load_train_data, train_step

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--ramp", type=int, default=0)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()
    images, labels = demo_data()
    pool = images[:-HELD_OUT]
    data = load_train_data(images[0], labels[0], pool)
    state = load_checkpoint(args.init)
    cfg = TrainConfig(variant="full", steps=args.steps, net=checkpoint_config(state, args.init).net)
    torch.manual_seed(0)
    model, disc = build_models(cfg)
    model.load_state_dict({k: v for k, v in state["model"].items() if k in model.state_dict()}, strict=False)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas)
    x, xs = data.atlas.image_tensor(), data.atlas.one_hot()
    rng = np.random.default_rng(0)
    log = []
    for step in range(args.steps):
        f = min(1.0, (step + 1) / args.ramp) if args.ramp else 1.0
        c = replace(cfg, lambda_cyc=cfg.lambda_cyc * f, lambda_reg=cfg.lambda_reg * f)
        y = torch.from_numpy(data.images[rng.integers(len(pool))])[None, None]
        log.append({"step": step + 1, "weight": f, **train_step(model, disc, opt_g, opt_d, x, xs, y, c)})
        if (step + 1) % 20 == 0:
            last = log[-20:]
            print(
                step + 1, {k: round(float(np.mean([r[k] for r in last])), 4) for k in last[0] if k != "step"}
            )
    out = REPO / "bench" / "out" / "collapse_check" / f"{args.tag or f'ramp{args.ramp}'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(log) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Does the full LT-Net objective keep a registration field, or pull it back to zero?

    python -m bench.investigations.collapse_check --init bench/out/demo_pretrain/both.pt \
        --ramp 200 --steps 250

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

Which term does it (2026-11-26, after the composed cycle; the same two generators, no ramp, 100
steps of each ladder row, ``--variant``, held-out Dice every 25 steps; start 0.547, identity 0.519):

| row | Dice at 25 / 50 / 75 / 100 steps | L_smooth at 100 |
| --- | --- | --- |
| voxelmorph | 0.546 / 0.550 / - / - (stopped at 60: L_sim -0.445) | 0.0034 |
| gan | 0.543 / 0.504 / 0.486 / 0.480 | 0.0120 |
| cycle | 0.548 / 0.545 / 0.505 / 0.533 | 0.0149 |
| trans | 0.519 / 0.523 / 0.524 / 0.542 | 0.0076 |
| anat | 0.523 / 0.531 / 0.536 / 0.531 | 0.0114 |
| trans-anat | 0.519 / 0.519 / 0.527 / 0.526 | 0.0076 |
| full | 0.519 / 0.519 / 0.530 / 0.530 | 0.0071 |
| cycle, no L_GAN (``--no-gan``) | 0.523 / 0.524 / 0.524 / 0.524 | 0.0015 |
| trans, no L_GAN | 0.519 / 0.519 / 0.519 / 0.519 | 0.0000 |
| full, no L_GAN | 0.519 / 0.519 / 0.519 / 0.519 | 0.0000 |
| full, no L_GAN, ``--trans-scale 0.035`` | 0.519 / 0.519 / 0.520 / 0.520 | 0.0004 |
| full, ``--trans-scale 0.035`` | 0.523 / 0.531 / 0.533 / 0.531 | 0.0117 |

Two separate faults. L_GAN on its own moves the field away from the anatomy (the discriminator
sees one atlas, warped, against many subjects; the generator can only answer with geometry). The
cycle family pulls the field to the identity, the one pair of maps G_B inverts exactly: without
L_GAN the field is gone within 25 steps as soon as L_trans is on, and L_cyc alone takes most of
the gain. Measuring L_trans in units of the half box ([-1, 1], ``--trans-scale 0.035``) does not
save it: L_anat (0.035 at step 20, times 3) and L_cyc take over. With L_GAN the field is kept
alive only by the adversarial noise.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ltnet.checkpoint import checkpoint_config, load_checkpoint
from ltnet.config import NetConfig, TrainConfig
from ltnet.demo import HELD_OUT, demo_data
from ltnet.evaluate import dice_per_label
from ltnet.io import load_labels
from ltnet.model import build_models
from ltnet.segment import predict_field, transfer_labels
from ltnet.train import train_step
from ltnet.trainset import load_train_data

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init", type=Path, help="start from this checkpoint (default: from scratch)")
    ap.add_argument("--variant", default="full", help="row of the ladder (default: full)")
    ap.add_argument("--no-gan", action="store_true", help="diagnostic: the variant without L_GAN")
    ap.add_argument(
        "--trans-scale",
        type=float,
        default=1.0,
        help="diagnostic: L_trans's residual multiplied by this before rho (0.03: about [-1, 1] units)",
    )
    ap.add_argument("--ramp", type=int, default=0)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--eval-every", type=int, default=50, help="held-out Dice every N steps (0: never)")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()
    if args.trans_scale != 1.0:
        from ltnet import losses
        from ltnet.losses.charbonnier import charbonnier
        from ltnet.losses.consistency import compose

        def scaled_trans(dp_f, dp_b, warp):
            return charbonnier(args.trans_scale * compose(dp_f, dp_b, warp)).mean()

        losses.transformation_consistency_loss = scaled_trans  # model.py looks it up at each call
    images, labels = demo_data()
    pool = images[:-HELD_OUT]
    data = load_train_data(images[0], labels[0], pool)
    state = load_checkpoint(args.init) if args.init else None
    net = checkpoint_config(state, args.init).net if state is not None else NetConfig(half_res=True)
    cfg = TrainConfig.for_recipe("paper", variant=args.variant, steps=args.steps, net=net)
    torch.manual_seed(0)
    model, disc = build_models(cfg)
    if state is not None:
        model.load_state_dict(
            {k: v for k, v in state["model"].items() if k in model.state_dict()}, strict=False
        )
    if args.no_gan:
        model.variant, disc = replace(model.variant, name=f"{args.variant}-no-gan", gan=False), None
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    held_images = load_train_data(images[0], labels[0], images[-HELD_OUT:]).images  # as training sees them
    held = [
        (img, np.asarray(load_labels(t).data)) for img, t in zip(held_images, labels[-HELD_OUT:], strict=True)
    ]

    def held_out_dice() -> float:
        """Mean Dice over the atlas's labels (background excluded), on the demo's common grid."""
        model.eval()
        ids = data.atlas.label_ids
        scores = []
        for img, truth in held:
            dp = predict_field(model, data.atlas, img, amp=False)
            pred = transfer_labels(torch.from_numpy(data.atlas.labels), ids, dp).numpy()
            scores.append(np.nanmean(dice_per_label(pred, truth, ids[1:])))
        model.train()
        return float(np.mean(scores))

    dice0 = held_out_dice() if args.eval_every else float("nan")
    print("held-out Dice at the start", round(dice0, 4))
    x, xs = data.atlas.image_tensor(), data.atlas.one_hot()
    rng = np.random.default_rng(0)
    log = []
    for step in range(args.steps):
        f = min(1.0, (step + 1) / args.ramp) if args.ramp else 1.0
        c = replace(cfg, lambda_cyc=cfg.lambda_cyc * f, lambda_reg=cfg.lambda_reg * f)
        y = torch.from_numpy(data.images[rng.integers(len(pool))])[None, None]
        log.append({"step": step + 1, "weight": f, **train_step(model, disc, opt_g, opt_d, x, xs, y, c)})
        if args.eval_every and (step + 1) % args.eval_every == 0:
            log[-1]["dice"] = held_out_dice()
            print(step + 1, "held-out Dice", round(log[-1]["dice"], 4), flush=True)
        if (step + 1) % 20 == 0:
            last = log[-20:]
            print(
                step + 1,
                {
                    k: round(float(np.mean([r[k] for r in last])), 4)
                    for k in last[0]
                    if k not in ("step", "dice")
                },
                flush=True,
            )
    out = REPO / "bench" / "out" / "collapse_check" / f"{args.tag or f'{args.variant}-ramp{args.ramp}'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(log) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

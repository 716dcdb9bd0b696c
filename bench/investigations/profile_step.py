"""Where a training step's time goes: torch's profiler over a few steps on random data.

python -m bench.investigations.profile_step --shape 80 96 80 --labels 43 --variant full [--half-res]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ltnet.atlas import Atlas
from ltnet.config import NetConfig, TrainConfig
from ltnet.model import build_models
from ltnet.train import train_step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", type=int, nargs=3, default=[80, 96, 80])
    ap.add_argument("--labels", type=int, default=43, help="atlas label count, background excluded")
    ap.add_argument("--variant", default="full")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--rows", type=int, default=18)
    ap.add_argument("--half-res", action="store_true", help="the half-resolution field option")
    args = ap.parse_args()
    shape = tuple(args.shape)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, args.labels + 1, shape).astype(np.int32)
    atlas = Atlas.from_arrays(rng.random(shape, dtype=np.float32), labels, np.eye(4))
    cfg = TrainConfig.for_recipe("paper", variant=args.variant, net=NetConfig(half_res=args.half_res))
    model, disc = build_models(cfg)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    x = atlas.image_tensor()
    xs = atlas.one_hot() if model.variant.needs_labels else None
    y = torch.rand(1, 1, *shape)
    train_step(model, disc, opt_g, opt_d, x, xs, y, cfg)  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            train_step(model, disc, opt_g, opt_d, x, xs, y, cfg)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How hard does L_smooth on G_B's cycle-path field pull on G_F? ``generator_objective`` smooths
dp_b = G_B(y_bar, x) with the weight lambda_reg, not scaled by ``cycle_scale``; y_bar = x o dp_F, so
that term reached G_F even with the cycle family at 0, where G_F is otherwise trained as VoxelMorph,
until 2026-12-07: training now leaves the cycle path out when the cycle family weighs 0 throughout,
and the coupling with it. The model to probe is one trained with the path, e.g. the candidate row
``cyc0path-ladder-full-s0`` (``--cycle-scale 1e-9``).

    python -m bench.investigations.cycle_path_smooth bench/out/accuracy/cpu/runs/cyc0path-ladder-full-s0

For each of the six benchmark subjects (working grid, as ``recipe_screen``): the norm of the
gradient on dp_F of L_sim, of lambda_reg L_smooth(dp_F) and of lambda_reg L_smooth(dp_b), and the
cosine between the first and the last. Prints a line per subject and the medians.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.investigations.recipe_screen import NAMES, REPO, load


def main() -> int:
    from ltnet import losses
    from ltnet.segment import load_trained

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="run folder of a model with a backward network")
    args = ap.parse_args()
    trained = load_trained(args.run)
    model, cfg = trained.model, trained.config
    if model.g_b is None:
        raise SystemExit(f"{args.run}: no backward network")
    atlas, images, _ = load(REPO / "bench" / "out" / "accuracy" / "cache")
    x = atlas.image_tensor()
    rows = []
    for name, img in zip(NAMES, images, strict=True):
        y = torch.from_numpy(img)[None, None].float()
        out = model(x, y)  # the training cycle: dp_f, y_bar = x o dp_f, dp_b = G_B(y_bar, x)
        terms = {
            "sim": losses.lncc_loss(y, out.y_bar, cfg.lncc_kernel),
            "smooth_f": cfg.lambda_reg * losses.gradient_loss(out.dp_f),
            "smooth_b": cfg.lambda_reg * losses.gradient_loss(out.dp_b),
        }
        grads = {
            k: torch.autograd.grad(v, out.dp_f, retain_graph=True)[0].flatten() for k, v in terms.items()
        }
        cos = float(torch.nn.functional.cosine_similarity(grads["sim"], grads["smooth_b"], dim=0))
        row = {k: float(g.norm()) for k, g in grads.items()} | {"cos_sim_smooth_b": cos}
        rows.append(row)
        print(name, " ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    print("median", " ".join(f"{k} {v:.3g}" for k, v in med.items()))
    print(f"|grad smooth_b| / |grad sim|: {med['smooth_b'] / med['sim']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Is the ``syn-1mm`` row's SyN held back by antspyx's default ``reg_iterations=(40, 20, 0)``,
which never iterates at the finest (1 mm) level? The same registration with iterations there.

    python -m bench.investigations.syn_fine_iterations sub-01 sub-02 --iterations 40 20 10

From the benchmark's atlas to each named subject at the scans' native 1 mm, labels by
``genericLabel``, scored like the rows (28 structures, native space). Writes
``bench/results/cpu/screen/syn/<iterations>.json`` with the Dice and seconds per subject, beside
the ``syn-1mm`` row's figures for the same subjects.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    import ants

    from ltnet.evaluate import dice_per_label
    from ltnet.io import load_image, load_labels
    from ltnet.labels import EVAL_LABELS
    from ltnet.registration import to_ants

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("subjects", nargs="+")
    ap.add_argument("--iterations", nargs=3, type=int, default=[40, 20, 10])
    args = ap.parse_args()
    pins = json.loads((REPO / "bench" / "results" / "prep-2mm.json").read_text())
    links = REPO / "bench" / "out" / "accuracy" / "cpu" / "data"
    row = json.loads((REPO / "bench" / "results" / "cpu" / "rows" / "syn-1mm.json").read_text())
    a = pins["atlas"]
    moving, labels = load_image(links / "images" / f"{a}.mgz"), load_labels(links / "labels" / f"{a}.mgz")
    m_ants = to_ants(moving.data, moving.affine)
    lab_ants = to_ants(labels.data.astype(np.float32), labels.affine)
    tag = "x".join(map(str, args.iterations))
    out: dict = {"reg_iterations": args.iterations, "subjects": {}}
    for n in args.subjects:
        fixed = load_image(links / "images" / f"{n}.mgz")
        f_ants = to_ants(fixed.data, fixed.affine)
        t0 = time.perf_counter()
        reg = ants.registration(
            fixed=f_ants, moving=m_ants, type_of_transform="SyN", reg_iterations=args.iterations
        )
        warped = ants.apply_transforms(f_ants, lab_ants, reg["fwdtransforms"], interpolator="genericLabel")
        sec = time.perf_counter() - t0
        truth = load_labels(links / "labels" / f"{n}.mgz").data
        dice = float(np.nanmean(dice_per_label(np.rint(warped.numpy()).astype(np.int32), truth, EVAL_LABELS)))
        out["subjects"][n] = {
            "dice": dice,
            "seconds": sec,
            "default_dice": row["dice"]["subjects"][n]["mean"],
        }
        print(n, out["subjects"][n], flush=True)
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "syn"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{tag}.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

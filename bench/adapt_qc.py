"""Test-time adaptation and cycle QC on the real brains, for any trained run (issue 8's checks
before the benchmark's own full model exists).

    python -m bench.adapt_qc --model bench/out/native_check/freesurfer/run --atlas sub-01

Uses bench/accuracy.py's rows with that run as the base model: ``segment --adapt-steps N`` for
N = 0, 25, 50, 100, 200 (field) and 25, 50 (weights), and ``segment --save-qc`` with the Spearman
correlation of the per-structure cycle error and the real Dice over the pooled (subject x
structure) pairs, 95 % bootstrap interval. The atlas's own subject is left out of the test set.
Writes bench/out/adapt_qc/<tag>/rows/*.json and bench/ADAPT_QC.md.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from bench.accuracy import REPO, Bench, run_row

ROWS = ["qc", *[f"adapt-field-{n}" for n in (0, 25, 50, 100, 200)], "adapt-weights-25", "adapt-weights-50"]


class ModelBench(Bench):
    """Bench rows on a given run: its atlas, its model."""

    def __init__(self, model: Path, atlas: str, root: Path):
        super().__init__("cpu", root)
        self.model, self.atlas_name = model, atlas

    def atlas(self) -> str:
        return self.atlas_name

    def base_run(self) -> Path:
        return self.model

    def rows_train(self, row: str) -> float:
        return math.nan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--atlas", required=True, help="the subject the model's atlas is (sub-01 ... bert)")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--report", action="store_true", help="only write bench/ADAPT_QC.md from the rows done")
    args = ap.parse_args()
    tag = args.tag or args.model.parent.name
    bench = ModelBench(args.model.resolve(), args.atlas, REPO / "bench" / "out" / "adapt_qc" / tag)
    cfg = json.loads((args.model / "config.json").read_text())
    for row in [] if args.report else ROWS:
        f = bench.rows / f"{row}.json"
        if f.exists():
            continue
        t0 = time.perf_counter()
        r = run_row(bench, row)
        r["wall_seconds"] = time.perf_counter() - t0
        bench.write_row(row, r)
        print(f"{row}: {r['dice']['summary']['mean']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows = {p.stem: json.loads(p.read_text()) for p in bench.rows.glob("*.json") if p.stem in ROWS}
    lines = [
        "# Test-time adaptation and cycle QC on the real brains",
        "",
        f"Written by `python -m bench.adapt_qc --model {args.model} --atlas {args.atlas}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Base model: variant {cfg['variant']}, {cfg['steps']} steps, "
        f"half_res {cfg['net'].get('half_res', False)}; atlas {args.atlas}; test set: the six other "
        "subjects, native space, the SPEC's 28 structures.",
        "",
        "Seconds are wall times of `segment` per subject; on a shared machine they are upper bounds.",
        "",
        "| adaptation | steps | mean Dice (std) | min | s / subject (network, adaptation, transfer) |",
        "| --- | --- | --- | --- | --- |",
    ]
    missing = [r for r in ROWS if r not in rows]
    for row in ROWS[1:]:
        if row in rows:
            _, mode, n = row.split("-")
            s = rows[row]["dice"]["summary"]
            name = mode if n != "0" else "none"
            secs = rows[row]["seconds_per_subject"]
            lines.append(f"| {name} | {n} | {s['mean']:.3f} ({s['std']:.3f}) | {s['min']:.3f} | {secs:.1f} |")
    if "qc" in rows:
        q = rows["qc"]
        lines += [
            "",
            "Cycle QC: Spearman's rho between each structure's mean cycle error and its Dice over "
            f"{q['pairs']} (subject x structure) pairs: {q['spearman_rho']:+.3f} "
            f"(95 % bootstrap {q['ci95'][0]:+.3f} to {q['ci95'][1]:+.3f}). "
            "Per subject (mean error mm, mean Dice): "
            + ", ".join(f"({a:.4f}, {b:.3f})" for a, b in q["subject_level"])
            + ".",
        ]
    if missing:
        lines += ["", "Not yet run: " + ", ".join(f"`{m}`" for m in missing) + "."]
    (REPO / "bench" / "ADAPT_QC.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Is a step of the full model cheaper with the cycle family at x0 (ltnet's default) than at x0.01?
Side by side in one process, on the benchmark's cpu profile (its pool, atlas and seed 0), no
diagnostics; the x0.01 arm has its cycle weights at full from the first step (no warm-up or ramp, so
that they act; with both weights 0 there is no schedule to turn off).

    python -m bench.investigations.cycle_scale_speed [--steps 40] [--reps 2]

Each arm trains ``--steps`` steps ``--reps`` times, alternating; prints each run's median seconds a
step (after the first 10) and the median over runs. The runs share ``bench.accuracy``'s folder (and
its prepared images) as ``runs/cycle-speed-*``, removed at the end. Until 2026-12-07 the cycle path
was run at x0 too, for the log, and x0 was no faster (2.85 against 2.75 s a step); it is now left out,
and x0 took 1.11 s a step against 2.89 (2026-12-07 evening, medians of 2 runs each).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from bench.accuracy import REPO, Bench
from ltnet.runtime import read_log

ARMS = {"x0.01": ("--cycle-scale", "0.01", "--warmup-steps", "0", "--ramp-steps", "0"), "x0": ()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--reps", type=int, default=2)
    default = REPO / "bench" / "out" / "accuracy"
    ap.add_argument("--out", type=Path, default=default, help="bench.accuracy's --out")
    args = ap.parse_args()
    bench = Bench("cpu", args.out)
    flags = ("--diag-every", "0")
    seconds: dict[str, list[float]] = {}
    for rep in range(args.reps):
        for arm, extra in ARMS.items():
            tag = f"cycle-speed-{arm}-{rep}"
            shutil.rmtree(bench.root / "runs" / tag, ignore_errors=True)
            run = bench.train_run(tag, "full", 0, bench.test_names(), args.steps, (*flags, *extra))
            log = read_log(run)
            shutil.rmtree(run)
            seconds.setdefault(arm, []).append(statistics.median(r["seconds"] for r in log[10:]))
            print(f"{arm} run {rep}: {seconds[arm][-1]:.2f} s a step", flush=True)
    for arm, s in seconds.items():
        print(f"{arm}: median {statistics.median(s):.2f} s a step over {len(s)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

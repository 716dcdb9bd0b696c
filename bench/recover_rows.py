"""Row records of bench/accuracy.py rebuilt from a committed RESULTS.json (and RESULTS.md's curve).

    python -m bench.recover_rows --rev 06ec1be               # the cpu profile
    python -m bench.recover_rows --rev 06ec1be --profile cpu-cuda

Until 06ec1be the row records lived in the ignored ``bench/out/accuracy/<profile>/rows/`` and a
fresh checkout lost them; they now live in ``bench/results/<profile>/rows/``, kept in git. What a
committed RESULTS.json kept of each row (mean, std, min, max and each subject's mean Dice, seconds
per subject, training time) is written back as a row record marked ``recovered_from``; the learning
curve's points come from RESULTS.md's table (training time rounded as printed), as
``curve.partial.json``, which the curve row resumes. Per-structure Dice, HD95, deformation figures
and the diagnostics' records are not in those files: rerun the rows (``accuracy.py
--rerun-recovered``) to measure them again. Existing row records are never replaced.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess

from bench.accuracy import REPO, Bench


def git_show(rev: str, path: str) -> str:
    r = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{path} at {rev}: {r.stderr.strip()}")
    return r.stdout


def curve_points(md: str) -> list[dict]:
    """The learning curve's table of a RESULTS.md: steps, mean (std), training time."""
    head = md.find("## Learning curve")
    if head < 0:
        return []
    unit = {"s": 1.0, "min": 60.0, "h": 3600.0}
    points = []
    for steps, mean, std, t, u in re.findall(
        r"^\| (\d+) \| ([\d.]+) \(([\d.]+)\) \| ([\d.]+) (s|min|h) \|$", md[head:].split("\n## ")[0], re.M
    ):
        points.append(
            {
                "steps": int(steps),
                "mean": float(mean),
                "std": float(std),
                "train_seconds": round(float(t) * unit[u], 1),
            }
        )
    return points


def recover(bench: Bench, rev: str) -> list[str]:
    name = "RESULTS" if bench.name == "cpu" else f"RESULTS-{bench.name}"
    data = json.loads(git_show(rev, f"bench/{name}.json"))
    source = f"bench/{name}.json at {rev}"
    bench.rows.mkdir(parents=True, exist_ok=True)
    written = []
    atlas = bench.rows / "atlas.json"
    if not atlas.exists():
        bench.write_row("atlas", {"atlas": data["atlas"], "recovered_from": source})
        written.append("atlas")
    for row, r in data["rows"].items():
        f = bench.rows / f"{row}.json"
        if f.exists():
            continue
        record = {
            "dice": {"summary": r["summary"], "subjects": {k: {"mean": v} for k, v in r["subjects"].items()}},
            "seconds_per_subject": r["seconds_per_subject"],
            "train_seconds": r["train_seconds"],
            "row": row,
            "recovered_from": source,
        }
        bench.write_row(row, record)
        written.append(row)
    points = curve_points(git_show(rev, f"bench/{name}.md"))
    # partial: the curve's last point (2500 steps) had not been run
    f = bench.rows / "curve.partial.json"
    if points and not (f.exists() or (bench.rows / "curve.json").exists()):
        record = {"points": points, "row": "curve", "recovered_from": f"bench/{name}.md at {rev}"}
        bench.write_row("curve.partial", record)
        written.append("curve")
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", required=True, help="the commit whose RESULTS files hold the rows")
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args()
    bench = Bench(args.profile, REPO / "bench" / "out" / "accuracy")
    written = recover(bench, args.rev)
    print(f"{bench.rows}: recovered {', '.join(written) or 'nothing (every row has a record)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

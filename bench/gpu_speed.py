"""Seconds per training step and per G_F forward on one device, for the ablation's models.

Random volumes of the benchmark's boxes (43 atlas labels), so it needs no data. On CUDA each time
is a median over ``--reps`` steps after two warm-ups, with the device synchronised. Run the same
script with ``--device cpu`` for the CPU side of a ratio.

python -m bench.gpu_speed --device cuda --out bench/out/gpu/speed.json
python -m bench.gpu_speed --table bench/out/gpu/speed.json bench/out/gpu/cpu-speed.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from bench.speed import median_time
from ltnet.atlas import Atlas
from ltnet.config import NetConfig, TrainConfig
from ltnet.model import build_models
from ltnet.runtime import autocast_context
from ltnet.train import train_step

BOXES = {"2mm": (80, 96, 80), "1mm": (160, 192, 160)}
# (box, variant, half_res, amp)
ROWS = [
    ("2mm", "voxelmorph", True, True),
    ("2mm", "full", True, True),
    ("2mm", "full", True, False),
    ("2mm", "full", False, True),
    ("1mm", "voxelmorph", True, True),
    ("1mm", "full", True, True),
    ("1mm", "full", False, True),
]


def timed(fn, device: torch.device, reps: int, warmup: int = 2) -> float:
    """``bench/speed.py``'s median, with the device synchronised around each call."""

    def synced() -> None:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return median_time(synced, reps, warmup)


def one_row(box: str, variant: str, half_res: bool, amp: bool, device, reps: int) -> dict:
    shape = BOXES[box]
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 44, shape).astype(np.int32)
    atlas = Atlas.from_arrays(rng.random(shape, dtype=np.float32), labels, np.eye(4))
    torch.manual_seed(0)
    cfg = TrainConfig.for_recipe("paper", variant=variant, amp=amp, net=NetConfig(half_res=half_res))
    model, disc = build_models(cfg, device)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    x = atlas.image_tensor(device)
    xs = atlas.one_hot(device) if model.variant.needs_labels else None
    y = torch.rand(1, 1, *shape, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step = timed(lambda: train_step(model, disc, opt_g, opt_d, x, xs, y, cfg), device, reps)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    model.eval()

    @torch.inference_mode()
    def forward() -> None:
        with autocast_context(device, amp):
            model.g_f(x, y)

    fwd = timed(forward, device, reps)
    return {
        "box": box,
        "shape": list(shape),
        "variant": variant,
        "half_res": half_res,
        "amp": amp and device.type == "cuda",
        "step_s": step,
        "forward_s": fwd,
        "peak_gib": peak,
    }


def table(gpu: dict, cpu: dict | None) -> str:
    """Markdown: one line per row of the GPU file, with the CPU file's matching row beside it."""

    def key(r: dict) -> tuple:
        return (r["box"], r["variant"], r["half_res"])

    on_cpu = {key(r): r for r in (cpu or {"rows": []})["rows"]}
    lines = [
        f"| box | model | AMP | {gpu['device']} s/step | forward s | peak GiB | CPU s/step | CPU / GPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in gpu["rows"]:
        model = r["variant"] + (" half-res" if r["half_res"] else "")
        c = on_cpu.get(key(r))
        ratio = f"{c['step_s'] / r['step_s']:.0f}" if c else ""
        cs = f"{c['step_s']:.2f}" if c else ""
        lines.append(
            f"| {r['box']} | {model} | {'bf16' if r['amp'] else 'fp32'} | {r['step_s']:.4f} | "
            f"{r['forward_s']:.4f} | {r['peak_gib']:.2f} | {cs} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--table",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="print the markdown table of a GPU result file (and a CPU one beside it) instead of measuring",
    )
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--boxes", nargs="+", default=list(BOXES))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.table:
        files = [json.loads(f.read_text()) for f in args.table]
        print(table(files[0], files[1] if len(files) > 1 else None))
        return 0
    if args.out is None:
        ap.error("--out is needed to measure")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rows = []
    for r in ROWS:
        if r[0] not in args.boxes or (device.type == "cpu" and not r[3]):
            continue  # on CPU, amp changes nothing: the fp32 row would repeat its neighbour
        rows.append(one_row(*r, device=device, reps=args.reps))
        print(json.dumps(rows[-1]), flush=True)
    result = {"device": name, "torch": torch.__version__, "reps": args.reps, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed and memory of ltnet on this machine, side by side in one run (issue 4).

Prints a table and writes ``OUT/speed.json`` and ``bench/SPEED.md`` (``--md``): the machine's sustained
convolution rate and the generator's FLOPs (its ideal time), segment timings at the 2 mm and
1 mm working boxes (generator forward, label transfer, the whole ``segment`` call, preparation),
seconds per training step of ``full``, ``voxelmorph`` and voxelmorph 0.3.4's ``VxmPairwise``
(``pip install voxelmorph==0.3.4``; skipped when absent), and the peak resident memory of each.
Every measurement runs in its own process, so its peak memory is its own; times are medians.

    python -m bench.speed                    # about 10 minutes on a 2-core laptop
    python -m bench.speed --train-1mm        # adds a full step at 1 mm (minutes per step on CPU)

Inputs: the FreeSurfer subjects of ../shared/data/brains (atlas sub-01, scan sub-02; override the
folder with LTNET_DATA); without them, ltnet's synthetic toy brains at the same boxes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))
SPACINGS = (2.0, 1.0)


def median_time(fn: Callable[[], object], reps: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


# ---------------------------------------------------------------- inputs


def inputs(workdir: Path) -> tuple[Path, Path, Path]:
    """Atlas image, atlas labels and one scan to segment, as files."""
    sub = DATA / "brains"
    if (sub / "sub-01" / "aseg.mgz").exists() and (sub / "sub-02" / "brainmask.mgz").exists():
        return sub / "sub-01" / "brainmask.mgz", sub / "sub-01" / "aseg.mgz", sub / "sub-02" / "brainmask.mgz"
    from ltnet.toy import make_toy_dataset

    images, labels = make_toy_dataset(workdir / "toy", n_subjects=2, shape=(112, 128, 112), spacing=1.5)
    return images[0], labels[0], images[1]


def smooth_field(shape: tuple[int, ...], voxels: float, seed: int = 0) -> torch.Tensor:
    """A smooth random displacement (1, 3, D, H, W) of a few voxels, like a trained G_F's."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 3, *[max(2, s // 8) for s in shape], generator=g) * voxels
    return torch.nn.functional.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)


# ---------------------------------------------------------------- workers (one process each)


def work_machine(args: argparse.Namespace) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from ltnet.nn import VxmUNet

    out: dict = {"conv": {}}
    with torch.inference_mode():
        for cin, size in ((32, 96), (64, 64)):
            conv = torch.nn.Conv3d(cin, cin, 3, padding=1).to(memory_format=torch.channels_last_3d)
            x = torch.rand(1, cin, size, size, size).contiguous(memory_format=torch.channels_last_3d)
            flops = 2 * cin * cin * 27 * size**3
            out["conv"][f"fp32 {cin}->{cin} at {size}^3"] = (
                flops / median_time(lambda conv=conv, x=x: conv(x), args.reps) / 1e9
            )
            if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
                cb, xb = conv.to(torch.bfloat16), x.to(torch.bfloat16)
                out["conv"][f"bf16 {cin}->{cin} at {size}^3"] = (
                    flops / median_time(lambda cb=cb, xb=xb: cb(xb), args.reps) / 1e9
                )
    out["bf16_supported"] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    out["sustained_gflops"] = max(v for k, v in out["conv"].items() if k.startswith("fp32"))
    out["generator_gflop"] = {}
    for spacing in SPACINGS:
        shape = box(spacing)
        for half in (False, True):
            net = VxmUNet(half_res=half).eval()
            with torch.inference_mode(), FlopCounterMode(display=False) as fc:
                net(torch.zeros(1, 1, *shape), torch.zeros(1, 1, *shape))
            out["generator_gflop"][f"{spacing:g}mm{' half-res' if half else ''}"] = fc.get_total_flops() / 1e9
    return out


def box(spacing: float) -> tuple[int, int, int]:
    from ltnet.config import PrepConfig

    return tuple(round(n / spacing) for n in PrepConfig().box_mm)


def _atlas_and_scan(spacing: float, workdir: Path, fresh_cache: bool):
    from ltnet.atlas import load_atlas
    from ltnet.cache import PrepCache
    from ltnet.config import PrepConfig
    from ltnet.io import load_image
    from ltnet.prepare import to_working_grid

    atlas_img, atlas_lab, scan = inputs(workdir)
    prep = PrepConfig(spacing=spacing)
    atlas = load_atlas(atlas_img, atlas_lab, prep)
    cache = PrepCache(Path(tempfile.mkdtemp(dir=workdir)) if fresh_cache else workdir / "cache")
    vol = load_image(scan)
    t = time.perf_counter()
    prepared = to_working_grid(vol, atlas.image, atlas.labels, atlas.affine, prep, cache)
    return atlas, prep, cache, scan, vol, prepared, time.perf_counter() - t


def work_segment(args: argparse.Namespace) -> dict:
    from ltnet.checkpoint import save_checkpoint
    from ltnet.config import NetConfig, TrainConfig
    from ltnet.io.resample import sample_labels
    from ltnet.model import build_models
    from ltnet.segment import load_trained, predict_field, segment_files, to_native
    from ltnet.trilinear import LabelGrid, voxel_coords

    workdir = Path(args.workdir)
    atlas, prep, cache, scan, vol, prepared, prep_s = _atlas_and_scan(args.spacing, workdir, True)
    out: dict = {"box": list(atlas.shape), "prepare_s": prep_s, "native_shape": list(vol.shape)}
    # a model with the SPEC layout (or half-res head); weights do not change its speed
    cfg = TrainConfig.for_recipe("paper", variant="full", net=NetConfig(half_res=args.half_res))
    torch.manual_seed(0)
    model, _ = build_models(cfg)
    run = Path(tempfile.mkdtemp(dir=workdir))
    state = {"config": cfg.to_dict(), "step": 0, "model": model.state_dict(), "atlas": atlas.to_state()}
    save_checkpoint(run / "checkpoint.pt", {**state, "prep": prep.to_dict(), "image_paths": []})
    trained = load_trained(run)
    out["forward_s"] = median_time(lambda: predict_field(trained.model, atlas, prepared.image), args.reps)
    dp = smooth_field(atlas.shape, 3.0)
    labels = torch.from_numpy(atlas.labels)
    coords = voxel_coords(atlas.shape) + dp[0]
    t = time.perf_counter()
    grid = LabelGrid.of(labels)  # once per atlas (Atlas.label_grid)
    out["label_grid_s"] = time.perf_counter() - t
    out["transfer_working_s"] = median_time(
        lambda: sample_labels(labels, atlas.label_ids, coords, grid=grid), args.reps
    )
    out["transfer_native_s"] = median_time(lambda: to_native(atlas, dp, prepared.transform, vol), args.reps)
    # the whole call, preparation read back from the cache a first call filled
    dst = Path(tempfile.mkdtemp(dir=workdir))

    def call() -> None:
        segment_files(
            trained.atlas, prep, trained.model, [scan], dst, cache=cache, progress=False, overwrite=True
        )

    segment_files(trained.atlas, prep, trained.model, [scan], dst, cache=cache, progress=False)
    out["segment_call_s"] = median_time(call, args.reps, warmup=0)
    out["peak_gb"] = peak_gb()
    return out


def work_train(args: argparse.Namespace) -> dict:
    from ltnet.config import NetConfig, TrainConfig
    from ltnet.model import build_models
    from ltnet.train import train_step

    workdir = Path(args.workdir)
    atlas, _, _, _, _, prepared, _ = _atlas_and_scan(args.spacing, workdir, False)
    x = atlas.image_tensor()
    y = torch.from_numpy(prepared.image)[None, None]
    labels = atlas.one_hot()
    if args.pad32:  # VxmPairwise's U-Net wants sizes divisible by 32: both sides get the same box
        pad = [p for s in reversed(x.shape[2:]) for p in (0, -s % 32)]
        x, y, labels = (torch.nn.functional.pad(t, pad) for t in (x, y, labels))
        labels[:, 0][labels.sum(1) == 0] = 1  # padding is background
    torch.manual_seed(0)
    if args.variant == "VxmPairwise":
        return _train_vxm(x, y, args)
    cfg = TrainConfig.for_recipe(  # the paper's step (with D), as SPEED.md measured it
        "paper", variant=args.variant, net=NetConfig(half_res=args.half_res), save_memory=args.save_memory
    )
    model, disc = build_models(cfg)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    xs = (
        atlas.one_hot().contiguous(memory_format=torch.channels_last_3d)
        if model.variant.needs_labels
        else None
    )
    step_s = median_time(lambda: train_step(model, disc, opt_g, opt_d, x, xs, y, cfg), args.reps)
    return {"box": list(x.shape[2:]), "step_s": step_s, "peak_gb": peak_gb()}


def _train_vxm(x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict:
    import neurite as ne
    import voxelmorph as vxm

    model = vxm.nn.models.VxmPairwise(ndim=3, source_channels=1, target_channels=1)  # its defaults
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ncc, grad = ne.nn.modules.NCC(window_size=9), ne.nn.modules.SpatialGradient("l2")

    def step() -> None:
        velocity, moved = model(x, y, return_warped_source=True, return_field_type="velocity")
        loss = -ncc(y, moved) + 1.0 * grad(velocity)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return {
        "box": list(x.shape[2:]),
        "step_s": median_time(step, args.reps),
        "peak_gb": peak_gb(),
        "voxelmorph": vxm.__version__,
    }


def work_labels(args: argparse.Namespace) -> dict:
    """Ways of warping labels: L one-hot channels through grid_sample against sparse trilinear
    weights, for the two label warps and the anatomy losses of a training step (forward+backward),
    and the old chunked one-hot label transfer against the 8-corner argmax."""
    from ltnet import losses
    from ltnet.io.resample import sample_at
    from ltnet.nn import SpatialTransformer
    from ltnet.segment import transfer_labels
    from ltnet.trilinear import SoftLabels

    atlas, _, _, _, _, _, _ = _atlas_and_scan(args.spacing, Path(args.workdir), False)
    xs = atlas.one_hot().contiguous(memory_format=torch.channels_last_3d)
    dp_f = smooth_field(atlas.shape, 2.0, seed=1).requires_grad_()
    dp_b = (-dp_f.detach() + smooth_field(atlas.shape, 0.5, seed=2)).requires_grad_()
    warp = SpatialTransformer()

    def step(sparse: bool) -> None:
        if sparse:
            soft = SoftLabels.from_one_hot(xs).warp(dp_f)
            y_bar_s, x_bar_s = soft.one_hot(), soft.warp_one_hot(dp_b)
        else:
            y_bar_s = warp(xs, dp_f)
            x_bar_s = warp(y_bar_s, dp_b)
        loss = losses.anatomy_cycle_loss(xs, x_bar_s) + losses.anatomy_difference_loss(xs, y_bar_s, x_bar_s)
        loss.backward()

    out = {
        "labels": len(atlas.label_ids),
        "train_dense_s": median_time(lambda: step(False), args.reps),
        "train_sparse_s": median_time(lambda: step(True), args.reps),
    }
    labels = torch.from_numpy(atlas.labels)
    dp = smooth_field(atlas.shape, 3.0).detach()

    def one_hot_chunks() -> None:  # the former way: 8 one-hot channels at a time through grid_sample
        coords = (
            torch.stack(
                torch.meshgrid(*[torch.arange(s, dtype=torch.float32) for s in atlas.shape], indexing="ij")
            )
            + dp[0]
        )
        best = torch.zeros(atlas.shape)
        for start in range(0, len(atlas.label_ids), 8):
            part = torch.tensor(atlas.label_ids[start : start + 8])
            onehot = (labels[None] == part[:, None, None, None]).float()[None]
            best = torch.maximum(best, sample_at(onehot, coords)[0].max(0).values)

    with torch.inference_mode():
        out["transfer_one_hot_s"] = median_time(one_hot_chunks, args.reps)
        out["transfer_corners_s"] = median_time(
            lambda: transfer_labels(labels, atlas.label_ids, dp), args.reps
        )
    return out


WORKERS = {"machine": work_machine, "segment": work_segment, "train": work_train, "labels": work_labels}


def run_worker(name: str, workdir: Path, reps: int, fresh: bool = True, **kw: object) -> dict:
    """One measurement in its own process; its result is kept in ``workdir/rows`` so that an
    interrupted run resumes (``--fresh`` measures everything again)."""
    key = "-".join([name, *(f"{k}={v}" for k, v in sorted(kw.items()))])
    saved = workdir / "rows" / f"{key}.json"
    if saved.exists() and not fresh:
        return json.loads(saved.read_text())
    cmd = [sys.executable, __file__, "--worker", name, "--workdir", str(workdir), "--reps", str(reps)]
    for k, v in kw.items():
        if v is True:
            cmd.append(f"--{k.replace('_', '-')}")
        elif v not in (False, None):
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    print("  ", " ".join(cmd[2:]), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"worker {name} {kw} failed with exit code {p.returncode}")
    result = json.loads(p.stdout.strip().splitlines()[-1])
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(result) + "\n")
    return result


# ---------------------------------------------------------------- report


def cpu_name() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown(r: dict) -> str:
    m = r["machine"]
    rate = m["sustained_gflops"]
    bf16 = "yes" if m["bf16_supported"] else "no (AVX2 only), so fp32 is the fastest precision here"
    lines = [
        f"# ltnet speed: {r['date']}",
        "",
        f"Machine: {r['cpu']}, {r['threads']} torch threads, torch {r['torch']}, CPU only. "
        f"Medians of {r['reps']} repetitions after a warm-up, each row in its own process. "
        f"Rerun: `python -m bench.speed{' --train-1mm' if r['train_1mm'] else ''}`.",
        "",
        "## Machine limit",
        "",
        "| convolution | GFLOP/s |",
        "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in m["conv"].items()],
        "",
        f"bf16 convolutions in hardware: {bf16}. Sustained rate taken as {rate:.0f} GFLOP/s.",
        "",
        "## Segment (one scan)",
        "",
        "| box | head | GFLOP | ideal forward s | forward s | x ideal | label transfer on box s "
        "| transfer to native s | segment call s (prep cached) | preparation s (ANTs) | peak GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, s in r["segment"].items():
        spacing, head = key.split("|")
        gflop = m["generator_gflop"][f"{spacing}{' half-res' if head == 'half-res' else ''}"]
        ideal = gflop / rate
        lines.append(
            f"| {spacing} {'x'.join(map(str, s['box']))} | {head} | {gflop:.0f} | {ideal:.2f} "
            f"| {s['forward_s']:.2f} | {s['forward_s'] / ideal:.2f} | {s['transfer_working_s']:.3f} "
            f"| {s['transfer_native_s']:.2f} "
            f"| {s['segment_call_s']:.2f} | {s['prepare_s']:.1f} | {s['peak_gb']:.2f} |"
        )
    first = next(iter(r["segment"].values()))
    grids = ", ".join(f"{k.replace('|', ' ')}: {s['label_grid_s']:.2f} s" for k, s in r["segment"].items())
    lines += [
        "",
        f"Native grid of the scan: {'x'.join(map(str, first['native_shape']))}. "
        "Label transfer on the box: all atlas labels carried along a smooth field of a few voxels, "
        "the atlas's label grid built once "
        f"({grids}). "
        "Transfer to native: field sampled at every native voxel, then the labels. The segment call "
        "reads the scan, takes its preparation from the cache, runs G_F, transfers and writes the NIfTI.",
        "",
    ]
    lines += [
        "## Training (seconds per step, batch 1)",
        "",
        "| box | model | s/step | peak GB |",
        "|---|---|---|---|",
    ]
    for key, t in r["train"].items():
        spacing, name = key.split("|")
        lines.append(
            f"| {spacing} {'x'.join(map(str, t['box']))} | {name} | {t['step_s']:.2f} | {t['peak_gb']:.2f} |"
        )
    tr = r["train"]
    if "2mm|full" in tr and "2mm|voxelmorph" in tr:
        lines += [
            "",
            f"full / voxelmorph at 2 mm: {tr['2mm|full']['step_s'] / tr['2mm|voxelmorph']['step_s']:.2f}",
        ]
    if "2mm|VxmPairwise padded" in tr:
        padded = "x".join(map(str, tr["2mm|VxmPairwise padded"]["box"]))
        lines += [
            f"ltnet voxelmorph / VxmPairwise, both padded to {padded}"
            f" (VxmPairwise's U-Net needs multiples of 32): "
            f"{tr['2mm|voxelmorph padded']['step_s'] / tr['2mm|VxmPairwise padded']['step_s']:.2f}"
        ]
    lab = r["labels"]
    lines += [
        "",
        f"## Label warps ({lab['labels']} labels, 2 mm box)",
        "",
        "| way | seconds |",
        "|---|---|",
        "| training: two label warps + L_anat + L_diff, one-hot channels through grid_sample "
        f"| {lab['train_dense_s']:.2f} |",
        f"| training: the same, sparse trilinear weights (ltnet) | {lab['train_sparse_s']:.2f} |",
        f"| label transfer, one-hot channels 8 at a time (former ltnet) | {lab['transfer_one_hot_s']:.2f} |",
        f"| label transfer, 8-corner argmax (ltnet) | {lab['transfer_corners_s']:.3f} |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "speed"))
    ap.add_argument("--md", default=str(REPO / "bench" / "SPEED.md"), help="where the table goes")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--train-1mm", action="store_true", help="also time a full training step at 1 mm")
    ap.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--spacing", type=float, default=2.0, help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="full", help=argparse.SUPPRESS)
    ap.add_argument("--half-res", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pad32", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save-memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fresh", action="store_true", help="measure again rows already in OUT/work/rows")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return 0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = out / "work"
    workdir.mkdir(exist_ok=True)
    r: dict = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "reps": args.reps,
        "train_1mm": args.train_1mm,
    }
    print("machine limit", flush=True)
    r["machine"] = run_worker("machine", workdir, args.reps, args.fresh)
    r["segment"] = {}
    for spacing in SPACINGS:
        for half in (False, True):
            key = f"{spacing:g}mm|{'half-res' if half else 'SPEC'}"
            print("segment", key, flush=True)
            r["segment"][key] = run_worker(
                "segment", workdir, args.reps, args.fresh, spacing=spacing, half_res=half
            )
    r["train"] = {}
    # (spacing, variant, half-res head, padded to multiples of 32, save memory)
    jobs = [(2.0, "full", False, False, False), (2.0, "full", True, False, False)]
    jobs += [(2.0, "voxelmorph", False, False, False), (2.0, "voxelmorph", True, False, False)]
    try:
        import voxelmorph  # noqa: F401

        jobs += [(2.0, "voxelmorph", False, True, False), (2.0, "VxmPairwise", False, True, False)]
    except ImportError:
        print("voxelmorph not installed: VxmPairwise row skipped (pip install voxelmorph==0.3.4)")
    if args.train_1mm:
        jobs += [(1.0, "full", False, False, False), (1.0, "full", False, False, True)]
        jobs += [(1.0, "full", True, False, False), (1.0, "full", True, False, True)]
    for spacing, variant, half, pad32, save in jobs:
        key = f"{spacing:g}mm|{variant}" + "".join(
            f" {name}" for name, on in (("half-res", half), ("padded", pad32), ("save-memory", save)) if on
        )
        print("train", key, flush=True)
        reps = args.reps if spacing > 1 else 1
        kw = {"spacing": spacing, "variant": variant, "half_res": half, "pad32": pad32, "save_memory": save}
        r["train"][key] = run_worker("train", workdir, reps, args.fresh, **kw)
    print("label warps", flush=True)
    r["labels"] = run_worker("labels", workdir, args.reps, args.fresh, spacing=2.0)
    (out / "speed.json").write_text(json.dumps(r, indent=2) + "\n")
    md = markdown(r)
    Path(args.md).write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

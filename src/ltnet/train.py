"""Training: one generator update then one discriminator update per step (SPEC, 'Updates').

The pieces are plain functions so that a distributed launcher can wrap the models and call
:func:`train_step` unchanged: :func:`batch_indices` makes the data order a pure function of
(seed, step), which is also what lets a resumed run repeat an uninterrupted one exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ltnet import losses
from ltnet.atlas import Atlas, load_atlas
from ltnet.cache import PrepCache
from ltnet.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from ltnet.config import TrainConfig, get_variant
from ltnet.errors import LtnetError
from ltnet.io import atomic_write_text, load_image, load_mask, pair_masks
from ltnet.io.atomic import ensure_writable_dir
from ltnet.model import LTNet, build_models, generator_objective
from ltnet.prepare import PrepConfig, to_working_grid

LOG_NAME = "log.jsonl"


@dataclass(frozen=True)
class TrainData:
    """The atlas and the unlabelled images, all on the working grid. images: (N, X, Y, Z) float32."""

    atlas: Atlas
    images: np.ndarray
    prep: PrepConfig = field(default_factory=lambda: PrepConfig(prealigned=True))
    image_paths: tuple[str, ...] = ()


def load_train_data(
    atlas_path: str | os.PathLike,
    atlas_labels: str | os.PathLike,
    image_paths: Sequence[str | os.PathLike],
    prep: PrepConfig | None = None,
    cache: PrepCache | None = None,
    masks: Sequence[str | os.PathLike] | None = None,
    progress: bool = False,
) -> TrainData:
    """Read the atlas and the images and bring them onto the working grid (prepared and cached),
    or, with ``prep.prealigned``, check that they are on the atlas grid already."""
    prep = prep or PrepConfig(prealigned=True)
    if not image_paths:
        raise LtnetError("no training images given")
    atlas = load_atlas(atlas_path, atlas_labels, prep)
    mask_paths = pair_masks([Path(p) for p in image_paths], [Path(m) for m in masks] if masks else None)
    items = list(zip(image_paths, mask_paths, strict=True))
    if progress and not prep.prealigned:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="prepare", unit="scan", dynamic_ncols=True)
    images = []
    for p, m in items:
        v = load_image(p)
        mask = load_mask(m, v) if m else None
        prepared = to_working_grid(v, atlas.image, atlas.labels, atlas.affine, prep, cache, mask, atlas.skull)
        images.append(prepared.image)
    return TrainData(atlas, np.stack(images), prep, tuple(str(p) for p in image_paths))


def batch_indices(seed: int, step: int, n_images: int, batch_size: int) -> list[int]:
    """The images of one step: a pure function of (seed, step), shuffled epoch by epoch."""
    per_epoch = max(1, n_images // batch_size) * batch_size
    out = []
    for k in range(step * batch_size, (step + 1) * batch_size):
        epoch, pos = divmod(k, per_epoch)
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.cat([torch.randperm(n_images, generator=g) for _ in range(-(-per_epoch // n_images))])
        out.append(int(order[pos]))
    return out


def autocast_context(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; full precision elsewhere."""
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    model: LTNet,
    disc: nn.Module | None,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    x: torch.Tensor,
    x_s: torch.Tensor | None,
    y: torch.Tensor,
    cfg: TrainConfig,
) -> dict[str, float]:
    """One generator update, then one discriminator update on ``y_bar.detach()``.

    x (B, 1, D, H, W) atlas, x_s (B, L, D, H, W) one-hot atlas labels or None, y (B, 1, D, H, W).
    Returns every loss term as a float (``disc`` is the discriminator's loss).
    """
    amp = autocast_context(x.device, cfg.amp)
    if disc is not None:
        disc.requires_grad_(False)  # the generator's update does not train D
    with amp:
        out = model(x, y, x_s)
        terms = generator_objective(model, out, x, y, x_s, disc, cfg)
    opt_g.zero_grad(set_to_none=True)
    terms.total.backward()
    opt_g.step()
    logs = terms.as_floats()
    if disc is not None and opt_d is not None:
        disc.requires_grad_(True)
        with amp:
            d_loss = losses.lsgan_discriminator_loss(disc(y), disc(out.y_bar.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        logs["disc"] = float(d_loss.detach())
    return logs


def _check_resume(saved: TrainConfig, cfg: TrainConfig, path: Path) -> None:
    a, b = saved.to_dict(), cfg.to_dict()
    a.pop("steps"), b.pop("steps")  # a resumed run may be extended
    diff = sorted(k for k in a if a[k] != b[k])
    if diff:
        raise LtnetError(
            f"{path}: cannot resume with a different configuration "
            f"({', '.join(diff)} differ from the checkpoint's)"
        )


def _rewrite_log(log_path: Path, last_step: int) -> None:
    """Keep the log lines up to the checkpoint's step: a killed run may have logged beyond it, or
    left a half-written last line."""
    if not log_path.exists():
        return
    kept = []
    for ln in log_path.read_text().splitlines():
        try:
            if json.loads(ln)["step"] <= last_step:
                kept.append(ln)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    atomic_write_text(log_path, "".join(ln + "\n" for ln in kept))


def train(
    cfg: TrainConfig,
    data: TrainData,
    run_dir: str | os.PathLike,
    device: torch.device | str = "cpu",
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train to ``cfg.steps`` steps, checkpointing to ``run_dir/checkpoint.pt``; return its path.

    Each step's loss terms and wall seconds go to ``run_dir/log.jsonl`` (one JSON object a line).
    """
    device = torch.device(device)
    run_dir = ensure_writable_dir(run_dir)
    ckpt_path, log_path = run_dir / CHECKPOINT_NAME, run_dir / LOG_NAME
    variant = get_variant(cfg.variant)

    torch.manual_seed(cfg.seed)
    model, disc = build_models(cfg, device)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    start = 0
    if ckpt_path.exists():
        if not resume:
            raise LtnetError(
                f"{run_dir}: already holds a run: pass --resume to continue it, or choose another --out"
            )
        state = load_checkpoint(ckpt_path)
        _check_resume(TrainConfig.from_dict(state["config"]), cfg, ckpt_path)
        model.load_state_dict(state["model"])
        opt_g.load_state_dict(state["opt_g"])
        if disc is not None and opt_d is not None:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        start = int(state["step"])
        _rewrite_log(log_path, start)
    elif log_path.exists():
        log_path.unlink()  # a log without a checkpoint is from a run that never saved
    atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")

    def save(step: int) -> None:
        save_checkpoint(
            ckpt_path,
            {
                "config": cfg.to_dict(),
                "step": step,
                "model": model.state_dict(),
                "disc": disc.state_dict() if disc is not None else None,
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict() if opt_d is not None else None,
                "atlas": data.atlas.to_state(),
                "prep": data.prep.to_dict(),
                "image_paths": list(data.image_paths),
            },
        )

    x1 = data.atlas.image_tensor(device)
    # channels-last, like the warped label maps it is compared with (see ltnet.trilinear)
    xs1 = (
        data.atlas.one_hot(device).contiguous(memory_format=torch.channels_last_3d)
        if variant.needs_labels
        else None
    )
    bar = _progress(range(start, cfg.steps), progress, initial=start, total=cfg.steps)
    model.train()
    with open(log_path, "a") as log:
        for step in bar:
            idx = batch_indices(cfg.seed, step, len(data.images), cfg.batch_size)
            y = torch.from_numpy(data.images[idx])[:, None].to(device)
            b = y.shape[0]
            x = x1.expand(b, -1, -1, -1, -1)
            x_s = xs1.expand(b, -1, -1, -1, -1) if xs1 is not None else None
            t0 = time.perf_counter()
            logs = train_step(model, disc, opt_g, opt_d, x, x_s, y, cfg)
            record = {"step": step + 1, **logs, "seconds": time.perf_counter() - t0}
            log.write(json.dumps(record) + "\n")
            log.flush()
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
            if on_step is not None:
                on_step(step + 1, logs)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                save(step + 1)
    return ckpt_path


def _progress(it: range, enabled: bool, **kw: Any):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc="train", unit="step", dynamic_ncols=True, **kw)


def read_log(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The per-step loss records of a run."""
    path = Path(run_dir) / LOG_NAME
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]

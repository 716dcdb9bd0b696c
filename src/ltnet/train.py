"""Training: one generator update then one discriminator update per step (SPEC, 'Updates').

The pieces are plain functions: :func:`train_step` takes the models bare or wrapped in
DistributedDataParallel, and :func:`batch_indices` makes the data order a pure function of
(seed, step, rank, world size), which is also what lets a resumed run repeat an uninterrupted one
exactly. Under torchrun (see :mod:`ltnet.distributed`) rank 0 alone writes the run folder.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ltnet import losses
from ltnet.atlas import label_one_hot
from ltnet.checkpoint import (
    CHECKPOINT_NAME,
    checkpoint_config,
    generator_state,
    load_checkpoint,
    save_checkpoint,
)
from ltnet.config import TrainConfig, get_variant
from ltnet.distributed import Dist, barrier, gather_floats, mean_over_ranks
from ltnet.errors import LtnetError
from ltnet.io import atomic_write_text
from ltnet.io.atomic import ensure_writable_dir
from ltnet.model import CycleOutputs, LossTerms, LTNet, Weights, build_models, generator_objective
from ltnet.nn import diff_augment
from ltnet.runtime import LOG_NAME, autocast_context, progress_steps
from ltnet.trainset import TrainData, without_atlas


def batch_indices(
    seed: int, step: int, n_images: int, batch_size: int, rank: int = 0, world_size: int = 1
) -> list[int]:
    """This process's images for one step: a pure function of (seed, step, rank, world size).

    Each epoch is one pass of a seeded DistributedSampler: a shuffle from which process r takes
    every ``world_size``-th image, starting at r. So the processes of one step together see the
    images that a single process with batch ``world_size * batch_size`` sees at that step.
    """
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n_images), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    per_epoch = len(sampler)
    orders: dict[int, list[int]] = {}
    out = []
    for k in range(step * batch_size, (step + 1) * batch_size):
        epoch, pos = divmod(k, per_epoch)
        if epoch not in orders:
            sampler.set_epoch(epoch)
            orders[epoch] = list(sampler)
        out.append(orders[epoch][pos])
    return out


def train_step(
    model: LTNet,
    disc: nn.Module | None,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    x: torch.Tensor,
    x_s: torch.Tensor | None,
    y: torch.Tensor,
    cfg: TrainConfig,
    step: int = 0,
    diagnose: bool = False,
) -> dict[str, float]:
    """One generator update, then one discriminator update on ``y_bar.detach()``.

    x (B, 1, D, H, W) atlas, x_s (B, L, D, H, W) one-hot atlas labels or None, y (B, 1, D, H, W).
    ``model`` and ``disc`` may be wrapped in DistributedDataParallel. ``step`` (from 0) sets the
    recipe's weights (:class:`ltnet.model.Weights`) and seeds D's augmentation, so a resumed run
    repeats an uninterrupted one. Returns every loss term as a float (``disc``: the discriminator's
    loss, ``r1``: its R1 penalty), the mean displacement of each field in voxels (``dpF_abs``, and
    ``dpB_abs``, ``dpR_abs`` for G_B's fields on y_bar and on y, where computed) and, with
    ``diagnose``, the gradient norm each weighted term puts on dpF and on G_B's
    output (``grad_dpF/<term>``, ``grad_dpB/<term>``).
    """
    amp = autocast_context(x.device, cfg.amp)
    core, disc_core = _unwrap(model), _unwrap(disc)
    assert core is not None
    weights = Weights.at(cfg, step)
    augment = None
    if cfg.disc_augment and disc is not None:
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        augment = functools.partial(diff_augment, generator=gen)
    if disc_core is not None:
        disc_core.requires_grad_(False)  # the generator's update does not train D
    with amp:
        both = cfg.backward_sim and core.g_b is not None
        sym = both and cfg.symmetric_sim > 0
        out = model(x, y, x_s, backward_sim=both, symmetric=sym, cycle=cfg.runs_cycle)
        # D's bare module: its weights take no gradient here, so there is nothing for DDP to sync
        terms = generator_objective(core, out, x, y, x_s, disc_core, cfg, weights, augment)
    logs = terms.as_floats()
    logs["dpF_abs"] = float(out.dp_f.detach().float().norm(dim=1).mean())
    for key, dp in (("dpB_abs", out.dp_b), ("dpR_abs", out.dp_r)):
        if dp is not None:
            logs[key] = float(dp.detach().float().norm(dim=1).mean())
    if diagnose:
        logs.update(gradient_diagnostics(out, terms))
    opt_g.zero_grad(set_to_none=True)
    terms.total.backward()
    opt_g.step()
    if disc is not None and disc_core is not None and opt_d is not None:
        disc_core.requires_grad_(True)
        real = y.detach().requires_grad_(cfg.r1_gamma > 0)
        fake = out.y_bar.detach().to(y.dtype)
        with amp:
            pair = torch.cat([real, fake])
            # the same policy on real and fake; each sample draws its own parameters
            # real and fake in one forward (instance norm keeps samples apart): one pass for DDP
            scores = disc(augment(pair) if augment is not None else pair)
            d_loss = losses.lsgan_discriminator_loss(scores[: len(y)], scores[len(y) :])
            if cfg.r1_gamma > 0:
                r1 = losses.r1_penalty(scores[: len(y)], real)
                d_loss = d_loss + 0.5 * cfg.r1_gamma * r1
                logs["r1"] = float(r1.detach())
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        logs["disc"] = float(d_loss.detach())
    return logs


def gradient_diagnostics(out: CycleOutputs, terms: LossTerms) -> dict[str, float]:
    """The norm of the gradient each weighted loss term puts on dpF and on G_B's cycle output dpB
    (``grad_dpF/<term>``, ``grad_dpB/<term>``), as the generator's update receives it.

    A collapse shows here before it shows in Dice: the cycle or adversarial terms' pull on dpF
    outweighing L_sim's. The graph is kept for the update that follows.
    """
    targets = [out.dp_f] + ([out.dp_b] if out.dp_b is not None else [])
    logs: dict[str, float] = {}
    for name, term in terms.weighted.items():
        if name == "sim_b" or not term.requires_grad:  # G_B's own L_sim reaches neither field
            continue
        grads = torch.autograd.grad(term, targets, retain_graph=True, allow_unused=True)
        for key, g in zip(("grad_dpF", "grad_dpB"), grads, strict=False):
            logs[f"{key}/{name}"] = float(g.float().norm()) if g is not None else 0.0
    return logs


def _unwrap(m: nn.Module | None) -> nn.Module | None:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


def _check_resume(saved: TrainConfig, cfg: TrainConfig, path: Path) -> None:
    a, b = saved.to_dict(), cfg.to_dict()
    a.pop("steps"), b.pop("steps")  # a resumed run may be extended
    diff = sorted(k for k in a if a[k] != b[k])
    if diff:
        raise LtnetError(
            f"{path}: cannot resume with a different configuration "
            f"({', '.join(diff)} differ from the checkpoint's)"
        )


def _load_init(path: str | os.PathLike, cfg: TrainConfig, model: nn.Module, disc: nn.Module | None) -> None:
    """Copy the weights of the checkpoint at ``path`` into ``model`` and ``disc`` (any float dtype).

    The two runs must share the network layout; their variants may differ (a ``voxelmorph`` run
    can start the ``full`` model's G_F, say): every network both have is copied, and the ones only
    this run has start from scratch, with a warning that names them."""
    state = load_checkpoint(path)
    saved = checkpoint_config(state, path)
    if saved.net != cfg.net:
        raise LtnetError(
            f"{path}: cannot start from this model: its network is {saved.net}, this run's {cfg.net}"
        )
    own = model.state_dict()
    shared = {k: v for k, v in generator_state(state).items() if k in own}
    fresh = sorted({k.split(".")[0] for k in own if k not in shared})
    try:
        model.load_state_dict(shared, strict=False)
        if disc is not None and state.get("disc") is not None:
            disc.load_state_dict(state["disc"])
        elif disc is not None:
            fresh.append("discriminator")
    except RuntimeError as e:
        first = str(e).splitlines()[0][:200]
        raise LtnetError(f"{path}: weights do not fit this network ({first})") from None
    if fresh:
        warnings.warn(f"{path}: {', '.join(fresh)} not in that model: they start from scratch", stacklevel=2)


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
    dist: Dist | None = None,
    init: str | os.PathLike | None = None,
) -> Path:
    """Train to ``cfg.steps`` steps, checkpointing to ``run_dir/checkpoint.pt``; return its path.

    Each step's loss terms and wall seconds go to ``run_dir/log.jsonl`` (one JSON object a line).
    With ``dist`` of several processes, the generators and the discriminator are wrapped in
    DistributedDataParallel, each process takes ``cfg.batch_size`` images a step (its shard of the
    data order), the logged losses are means over the processes, and rank 0 alone writes; at the
    end ``ranks.json`` records every rank's weight checksum, which DDP keeps equal.

    ``init`` (a run folder or checkpoint file) starts a new run from those weights (fine-tuning):
    the optimisers and the step start afresh. It is ignored when resuming.
    """
    dist = dist or Dist()
    device = torch.device(device)
    run_dir = ensure_writable_dir(run_dir)
    ckpt_path, log_path = run_dir / CHECKPOINT_NAME, run_dir / LOG_NAME
    variant = get_variant(cfg.variant)
    data = without_atlas(data)

    torch.manual_seed(cfg.seed)
    model, disc = build_models(cfg, device)
    ema = make_ema(model, cfg.ema_decay)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas) if disc is not None else None
    start = 0
    if ckpt_path.exists():
        if not resume:
            raise LtnetError(
                f"{run_dir}: already holds a run: pass --resume to continue it, or choose another --out"
            )
        state = load_checkpoint(ckpt_path)
        _check_resume(checkpoint_config(state, ckpt_path), cfg, ckpt_path)
        model.load_state_dict(state["model"])
        if ema is not None:
            ema.module.load_state_dict(state["model_ema"])
            ema.n_averaged.fill_(int(state["ema_count"]))
        opt_g.load_state_dict(state["opt_g"])
        if disc is not None and opt_d is not None:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        start = int(state["step"])
        if dist.is_main:
            _rewrite_log(log_path, start)
    else:
        if init is not None:
            _load_init(init, cfg, model, disc)
            if ema is not None:
                ema.module.load_state_dict(model.state_dict())
        if log_path.exists() and dist.is_main:
            log_path.unlink()  # a log without a checkpoint is from a run that never saved
    if dist.is_main:
        atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    barrier(dist)  # every rank has read the folder before rank 0 writes into it
    step_model, step_disc = model, disc
    if dist.active:
        ids = [device.index] if device.type == "cuda" else None
        step_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if disc is not None:
            step_disc = nn.parallel.DistributedDataParallel(disc, device_ids=ids)

    def save(step: int) -> None:
        save_checkpoint(
            ckpt_path,
            {
                "config": cfg.to_dict(),
                "step": step,
                "model": model.state_dict(),
                # the weights segment uses, when the recipe keeps an average (see generator_state)
                "model_ema": ema.module.state_dict() if ema is not None else None,
                "ema_count": int(ema.n_averaged) if ema is not None else 0,
                "disc": disc.state_dict() if disc is not None else None,
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict() if opt_d is not None else None,
                "atlas": data.atlas.to_state(),
                "extra_atlases": [a.to_state() for a in data.extra_atlases],
                "prep": data.prep.to_dict(),
                "image_paths": list(data.image_paths),
            },
        )

    # every atlas's image and one-hot labels (over the union of their labels), stacked (A, ...);
    # channels-last, like the warped label maps they are compared with (see ltnet.trilinear)
    atlases = data.atlases
    ids = sorted({int(i) for a in atlases for i in a.label_ids})
    x_all = torch.cat([a.image_tensor(device) for a in atlases])
    xs_all = (
        torch.stack([label_one_hot(torch.from_numpy(a.labels).to(device), ids) for a in atlases]).contiguous(
            memory_format=torch.channels_last_3d
        )
        if variant.needs_labels and cfg.runs_cycle
        else None
    )
    bar = progress_steps(range(start, cfg.steps), progress and dist.is_main, initial=start, total=cfg.steps)
    watch = CollapseWatch(cfg)
    model.train()
    with open(log_path, "a") if dist.is_main else contextlib.nullcontext() as log:
        for step in bar:
            idx = batch_indices(cfg.seed, step, len(data.images), cfg.batch_size, dist.rank, dist.world_size)
            y = torch.from_numpy(data.images[idx])[:, None].to(device)
            b = y.shape[0]
            pick = atlas_indices(cfg.seed, step, len(atlases), b, dist.rank)
            x = take(x_all, pick)
            x_s = take(xs_all, pick) if xs_all is not None else None
            t0 = time.perf_counter()
            for opt in filter(None, (opt_g, opt_d)):
                for group in opt.param_groups:
                    group["lr"] = cfg.lr_at(step)  # from the step alone: a resumed run repeats
            diagnose = cfg.diag_every > 0 and (step % cfg.diag_every == 0 or step + 1 == cfg.steps)
            logs = train_step(step_model, step_disc, opt_g, opt_d, x, x_s, y, cfg, step, diagnose)
            if ema is not None:
                ema.update_parameters(model)
            logs = mean_over_ranks(logs, dist, device)
            if dist.is_main:
                watch(step, logs["dpF_abs"])
            if log is not None:
                record = {"step": step + 1, **logs, "seconds": time.perf_counter() - t0}
                log.write(json.dumps(record) + "\n")
                log.flush()
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
            if on_step is not None:
                on_step(step + 1, logs)
            if dist.is_main and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
                save(step + 1)
    if dist.active:
        with torch.no_grad():
            params = [p.double() for m in (model, disc) if m is not None for p in m.parameters()]
            checksum = float(sum(p.sum() + p.square().sum() for p in params))
        sums = gather_floats(checksum, dist, device)
        if dist.is_main:
            atomic_write_text(run_dir / "ranks.json", json.dumps({"weight_checksums": sums}) + "\n")
    barrier(dist)  # the checkpoint is complete before any rank returns
    return ckpt_path


def take(stacked: torch.Tensor, pick: list[int]) -> torch.Tensor:
    """The rows ``pick`` of per-atlas tensors (A, ...); one atlas is expanded, not copied."""
    return stacked.expand(len(pick), *stacked.shape[1:]) if len(stacked) == 1 else stacked[pick]


def atlas_indices(seed: int, step: int, n_atlases: int, batch_size: int, rank: int = 0) -> list[int]:
    """The atlas of each of this process's pairs at one step, drawn uniformly: a pure function of
    (seed, step, rank), so that a resumed run draws what the uninterrupted one would have."""
    if n_atlases == 1:
        return [0] * batch_size
    rng = np.random.default_rng([seed, step, rank, 0x61746C])  # a stream of its own
    return [int(i) for i in rng.integers(n_atlases, size=batch_size)]


COLLAPSE_THRESHOLD = 0.05  # voxels: mean |dpF| below this after warm-up means G_F does nothing
COLLAPSE_WINDOW = 20


class CollapseWatch:
    """Warns once when the forward field collapses: the median of mean |dpF| over the last
    ``COLLAPSE_WINDOW`` steps below ``COLLAPSE_THRESHOLD`` voxels, 50 steps or more after the
    warm-up and ramp. On the benchmark's brains (2 mm) a registering G_F moves voxels by about 0.5
    on average and a collapsed one by 0.01 (bench/RESULTS.md)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.start = cfg.warmup_steps + cfg.ramp_steps + 50
        self.recent: deque[float] = deque(maxlen=COLLAPSE_WINDOW)
        self.warned = False

    def __call__(self, step: int, dpf_abs: float) -> None:
        self.recent.append(dpf_abs)
        if self.warned or step < self.start or len(self.recent) < COLLAPSE_WINDOW:
            return
        median = float(np.median(self.recent))
        if median < COLLAPSE_THRESHOLD:
            self.warned = True
            warnings.warn(
                f"step {step + 1}: the forward field has collapsed (mean |dpF| {median:.3f} voxel over the "
                f"last {COLLAPSE_WINDOW} steps, below {COLLAPSE_THRESHOLD}): the network adds nothing to "
                "the affine alignment; see the gradient diagnostics in the log ('ltnet report')",
                stacklevel=2,
            )


def make_ema(model: LTNet, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of the generators' weights (None when ``decay`` is 0)."""
    if decay == 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)

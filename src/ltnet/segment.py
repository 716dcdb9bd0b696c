"""Label transfer (SPEC, 'Inference'): ``dpF = G_F(x, y)``; the segmentation of y is ``x_s o dpF``.

Results go straight back to each scan's own grid: a native voxel u is carried to the working grid
through the inverse of the preparation's affine map, then along dpF into the atlas, where the
atlas's one-hot labels are sampled: one interpolation, no resampling of label ids. A prealigned
scan is the special case of an identity map on the atlas grid.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltnet.atlas import Atlas
from ltnet.cache import PrepCache
from ltnet.checkpoint import checkpoint_config, generator_state, load_checkpoint
from ltnet.cohort import PreparedScan, for_each_scan
from ltnet.config import INTERP_MODES, PrepConfig, SegmentConfig, TrainConfig
from ltnet.errors import LtnetError
from ltnet.io import Volume, save_like
from ltnet.io.image import label_dtype
from ltnet.io.resample import (
    apply_affine,
    covering_region,
    grid_coords,
    resample_labels,
    sample_at,
    sample_labels,
)
from ltnet.model import LTNet, build_models
from ltnet.runtime import autocast_context
from ltnet.trilinear import voxel_coords


@dataclass(frozen=True)
class TrainedModel:
    """What ``segment`` needs from a run: the generators, the configs, the atlas that fixes the
    working grid, and every atlas the run was trained with (that one first)."""

    model: LTNet
    config: TrainConfig
    prep: PrepConfig
    atlas: Atlas
    step: int
    atlases: tuple[Atlas, ...] = ()


def load_trained(run_dir: str | os.PathLike, device: torch.device | str = "cpu") -> TrainedModel:
    """A run's generators (its EMA when it kept one) on ``device``, in eval mode, with its configs
    and atlas. ``run_dir``: a run folder or a checkpoint file."""
    state = load_checkpoint(run_dir)
    cfg = checkpoint_config(state, run_dir)
    model, _ = build_models(cfg, device)
    try:
        model.load_state_dict(generator_state(state))
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:200]  # one line
        raise LtnetError(
            f"{run_dir}: checkpoint weights do not fit this ltnet's networks ({detail})"
        ) from None
    model.eval()
    prep = PrepConfig.from_dict(state["prep"]) if "prep" in state else PrepConfig(prealigned=True)
    atlas = Atlas.from_state(state["atlas"])
    extra = tuple(Atlas.from_state(a) for a in state.get("extra_atlases") or ())
    return TrainedModel(model, cfg, prep, atlas, int(state["step"]), (atlas, *extra))


def transfer_labels(
    labels: torch.Tensor,
    label_ids: Sequence[int],
    dp: torch.Tensor,
    interp: str = "linear",
    chunk: int = 1 << 21,
) -> torch.Tensor:
    """Warp an atlas id map (D, H, W) by ``dp`` (1, 3, D, H, W) on its own grid; ids (D, H, W) out.

    ``linear``: one-hot trilinear interpolation and argmax; ``nearest``: nearest voxel's id.
    """
    if interp not in INTERP_MODES:
        raise LtnetError(f"unknown interpolation {interp!r}: expected one of {', '.join(INTERP_MODES)}")
    if dp.ndim != 5 or dp.shape[0] != 1 or dp.shape[2:] != labels.shape:
        raise ValueError(
            f"expected labels (D, H, W) and a field (1, 3, D, H, W) on one grid, got "
            f"{tuple(labels.shape)} and {tuple(dp.shape)}"
        )
    coords = voxel_coords(labels.shape, dp.device) + dp[0].float()
    return sample_labels(labels, label_ids, coords, interp, chunk)


@dataclass(frozen=True)
class Segmentation:
    """One scan's result on its own grid: labels (X, Y, Z) int32; field (X, Y, Z, 3), for each voxel
    the RAS millimetres from it to its corresponding atlas point (affine and deformable parts);
    warped atlas (X, Y, Z) float32; the last two only when asked for."""

    labels: np.ndarray
    field_mm: np.ndarray | None = None
    warped: np.ndarray | None = None


@torch.inference_mode()
@torch.no_grad()
def predict_field(
    model: LTNet, atlas: Atlas, image: np.ndarray, amp: bool = True, symmetric: bool = False
) -> torch.Tensor:
    """dpF (1, 3, D, H, W) in working voxels for a prepared image (X, Y, Z) in [0, 1].

    ``symmetric`` (models with a backward network): the mean of G_F's field and the inverse of
    G_B's image-to-atlas field ``dpR = G_B(y, x)``, the two directions as an ensemble (measured in
    bench/RESULTS.md; for a diffeomorphic model the mean of the velocities: :meth:`LTNet.mean_field`);
    G_F's field alone otherwise, as the paper segments."""
    return predict_fields(model, [atlas], image, amp, symmetric)


@torch.inference_mode()
@torch.no_grad()
def predict_fields(
    model: LTNet,
    atlases: Sequence[Atlas],
    image: np.ndarray,
    amp: bool = True,
    symmetric: bool = False,
    batch: int = 8,
) -> torch.Tensor:
    """:func:`predict_field` for several atlases on one working grid, ``batch`` pairs at a time
    through the networks: (K, 3, D, H, W), in ``atlases``' order."""
    for a in atlases:
        if image.shape != a.shape:
            raise ValueError(f"image {image.shape} is not on the atlas grid {a.shape}")
    device = next(model.parameters()).device
    y1 = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device)
    out = []
    for i in range(0, len(atlases), batch):
        x = torch.cat([a.image_tensor(device) for a in atlases[i : i + batch]])
        y = y1.expand(x.shape[0], -1, -1, -1, -1)
        with autocast_context(device, amp):
            v_f = model.g_f.velocity(x, y).float()
            if not symmetric or model.g_b is None:
                out.append(model.g_f.displacement(v_f))
                continue
            v_r = model.g_b.velocity(y, x).float()
        out.append(model.mean_field(v_f, v_r))
    return torch.cat(out)


def rank_atlases(atlases: Sequence[Atlas], image: np.ndarray, k: int | None) -> list[int]:
    """The indices of the ``k`` atlases most similar to a prepared scan (global NCC on the working
    grid, after the affine alignment), most similar first; all of them, in their order, when ``k``
    is None or covers them all."""
    from ltnet.atlas import ncc

    if k is None or k >= len(atlases):
        return list(range(len(atlases)))
    scores = [ncc(a.image, image) for a in atlases]
    return sorted(range(len(atlases)), key=lambda i: -scores[i])[:k]


@torch.inference_mode()
def field_metrics(atlas: Atlas, dp: torch.Tensor) -> dict[str, float]:
    """Folding and log-Jacobian spread of dpF (1, 3, D, H, W) over the brain it transfers (the
    working-grid voxels that receive a non-background atlas label)."""
    from ltnet.deformation import deformation_metrics

    labels = torch.from_numpy(atlas.labels).to(dp.device)
    brain = transfer_labels(labels, atlas.label_ids, dp.float()) > 0
    return deformation_metrics(dp.float(), brain)


@torch.inference_mode()
def cycle_error_native(
    model: LTNet, atlas: Atlas, dp_f: torch.Tensor, transform: np.ndarray, native: Volume, amp: bool = True
) -> np.ndarray:
    """The cycle error |dpF(t) + dpB(t + dpF(t))| in mm (X, Y, Z) float32 on the scan's own grid.

    dpB = G_B(x o dpF, x) as in training; the error is computed on the working grid (isotropic, so
    voxels times the spacing give mm) and sampled trilinearly at every native voxel (0 outside)."""
    from ltnet.deformation import cycle_error

    if model.g_b is None:
        raise LtnetError("the model has no backward generator: no cycle error")
    x = atlas.image_tensor(dp_f.device)
    with autocast_context(dp_f.device, amp):
        y_bar = model.warp(x, dp_f)
        dp_b = model.g_b(y_bar, x).float()
    err = cycle_error(dp_f.float(), dp_b, model.warp) * atlas.spacing  # (1, D, H, W) mm
    coords = grid_coords(native.affine, native.shape, atlas.affine, np.linalg.inv(transform)).to(dp_f.device)
    return sample_at(err[None], coords)[0, 0].cpu().numpy().astype(np.float32)


def qc_scores(qc: np.ndarray, labels: np.ndarray, label_ids: Sequence[int]) -> dict:
    """Mean cycle error (mm) inside the transferred labels, overall and per structure."""
    flat = labels.ravel().astype(np.int64)
    sums = np.bincount(flat, weights=qc.ravel().astype(np.float64))
    counts = np.bincount(flat)
    per = {
        str(int(lab)): float(sums[lab] / counts[lab])
        for lab in label_ids
        if lab and lab < len(counts) and counts[lab]
    }
    inside = counts[1:].sum()
    return {"mean_mm": float(sums[1:].sum() / inside) if inside else float("nan"), "per_structure_mm": per}


def labels_to_native(
    labels: np.ndarray, grid_affine: np.ndarray, transform: np.ndarray, native: Volume
) -> np.ndarray:
    """Ids on the working grid (X, Y, Z) carried to a scan's own grid through its preparation
    ``transform`` (working world -> scan world), by one-hot interpolation and argmax (int32)."""
    return resample_labels(labels, grid_affine, native.affine, native.shape, np.linalg.inv(transform))


@torch.inference_mode()
def to_native(
    atlas: Atlas,
    dp: torch.Tensor | None,
    transform: np.ndarray,
    native: Volume,
    interp: str = "linear",
    with_extras: bool = False,
) -> Segmentation:
    """Carry the atlas to a scan's own grid through ``transform`` (working world -> scan world) and
    ``dp`` (1, 3, D, H, W working voxels; None for the affine alone)."""
    if interp not in INTERP_MODES:
        raise LtnetError(f"unknown interpolation {interp!r}: expected one of {', '.join(INTERP_MODES)}")
    device = dp.device if dp is not None else torch.device("cpu")
    to_scan = np.linalg.inv(transform)
    labels = np.zeros(native.shape, np.int32)
    # only native voxels that land in the working box can carry a label: work on their region
    box = covering_region(np.linalg.inv(atlas.affine) @ to_scan @ native.affine, atlas.shape, native.shape)
    if box is not None:
        corner = np.eye(4)
        corner[:3, 3] = [b.start for b in box]
        shape = [b.stop - b.start for b in box]
        pos = grid_coords(native.affine @ corner, shape, atlas.affine, to_scan).to(device)
        if dp is not None:
            pos = pos + sample_at(dp.float(), pos, padding="border")[0]
        atlas_labels = torch.from_numpy(atlas.labels).to(device)
        grid = atlas.label_grid
        labels[box] = sample_labels(atlas_labels, atlas.label_ids, pos, interp, grid=grid).cpu().numpy()
    if not with_extras:
        return Segmentation(labels)
    coords = grid_coords(native.affine, native.shape, atlas.affine, to_scan).to(device)
    pos = coords
    if dp is not None:
        pos = pos + sample_at(dp.float(), coords, padding="zeros")[0]
    warped = sample_at(atlas.image_tensor(device), pos)[0, 0].cpu().numpy()
    # world point of each native voxel's atlas correspondence, minus the voxel's own world point
    native_world = grid_coords(native.affine, native.shape, np.eye(4)).to(device)
    field = (apply_affine(atlas.affine, pos) - native_world).movedim(0, -1).cpu().numpy()
    return Segmentation(labels, field, warped)


@torch.inference_mode()
def fuse_to_native(
    targets: Sequence[Atlas],
    dps: Sequence[torch.Tensor | None],
    scan: torch.Tensor,
    transform: np.ndarray,
    native: Volume,
    rule: str,
    radius: int | None = None,
    beta: float | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fuse several atlases' labels and carry them to a scan's own grid.

    targets: the atlases on one grid (the working grid or a finer one); dps: each one's field
    (1, 3, D, H, W) on that grid, or None (the affine alone); scan: the scan on that grid
    (1, 1, D, H, W) in [0, 1]. Each atlas's image and one-hot labels (over the union of the atlases'
    labels) are warped onto the grid, fused there by ``rule`` (:mod:`ltnet.fusion`; ``radius`` and
    ``beta`` default to its defaults), and the fused
    probabilities are sampled trilinearly at every native voxel. Returns the ids (X, Y, Z) int32,
    the winning label's fused probability (X, Y, Z) float32 (1, background, where no label reaches)
    and a record."""
    from ltnet.atlas import label_one_hot
    from ltnet.fusion import DEFAULT_BETA, DEFAULT_RADIUS, argmax_labels, fuse_probabilities, fusion_weights
    from ltnet.nn import slab_warp

    grid = targets[0]
    if any(t.shape != grid.shape or not np.allclose(t.affine, grid.affine) for t in targets):
        raise ValueError("the atlases to fuse are not on one grid")
    device = scan.device
    ids = sorted({int(i) for t in targets for i in t.label_ids})

    def warped(volume: torch.Tensor, dp: torch.Tensor | None) -> torch.Tensor:
        return volume if dp is None else slab_warp(volume, dp.float())

    images = torch.cat([warped(t.image_tensor(device), dp) for t, dp in zip(targets, dps, strict=True)])
    radius = DEFAULT_RADIUS if radius is None else radius
    beta = DEFAULT_BETA if beta is None else beta
    weights = fusion_weights(images, scan, rule, radius, beta)
    probs = (
        warped(label_one_hot(torch.from_numpy(t.labels).to(device), ids)[None], dp)[0]
        for t, dp in zip(targets, dps, strict=True)
    )
    fused = fuse_probabilities(probs, weights)
    labels = np.zeros(native.shape, np.int32)
    prob = np.ones(native.shape, np.float32)  # background, certain, where no atlas label reaches
    # only native voxels near a label need sampling: crop the fused grid to them, one voxel to spare
    fg = torch.nonzero(fused[0] < 1 - 1e-6)
    box = None
    if len(fg):
        lo, hi = (fg.min(0).values - 1).clamp(min=0), fg.max(0).values + 2
        fused = fused[:, lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        corner = np.eye(4)
        corner[:3, 3] = lo.cpu().numpy()
        sub, to_scan = grid.affine @ corner, np.linalg.inv(transform)
        box = covering_region(np.linalg.inv(sub) @ to_scan @ native.affine, fused.shape[1:], native.shape)
    if box is not None:
        corner = np.eye(4)
        corner[:3, 3] = [b.start for b in box]
        shape = [b.stop - b.start for b in box]
        pos = grid_coords(native.affine @ corner, shape, sub, to_scan).to(device)
        out_ids, out_p = argmax_labels(sample_at(fused[None], pos, padding="border")[0], ids)
        labels[box], prob[box] = out_ids.cpu().numpy(), out_p.cpu().numpy()
    share = weights.flatten(1).mean(1).cpu().numpy()
    record = {"atlases": [t.name for t in targets], "rule": rule, "mean_weight": [float(w) for w in share]}
    return labels, prob, record


def finer_atlas(atlas: Atlas, cfg: SegmentConfig, prep: PrepConfig) -> Atlas | None:
    """The atlas on the finer grid that ``cfg`` transfers labels from (after ``refine_steps`` there),
    or None: no ``refine_spacing``, or no grid finer than the working one (the coarser of
    ``refine_spacing`` and the atlas's own voxels decides). Warns when the atlas holds no
    full-resolution source (a model trained before ltnet kept one): then it stays on the working grid."""
    if cfg.refine_spacing is None or prep.prealigned:  # prealigned: the working grid is the atlas's own
        return None
    if atlas.source is None:
        warnings.warn(
            "the model holds no full-resolution atlas (trained by an older ltnet): labels are transferred "
            "from the working grid; give the atlas files with --atlas and --atlas-labels to go finer",
            stacklevel=2,
        )
        return None
    own = float(np.linalg.norm(atlas.source.affine[:3, :3], axis=0).min())
    spacing = max(cfg.refine_spacing, own)
    if spacing >= atlas.spacing - 1e-6:
        return None
    return atlas.on_finer_grid(spacing)


def scan_on(grid: Atlas, item: PreparedScan, device: torch.device | str) -> torch.Tensor:
    """The scan (masked, if it has a mask) on ``grid``'s grid, resampled from its own file through
    its preparation: (1, 1, D, H, W) in [0, 1]."""
    from ltnet.prepare import scan_on_grid

    vol = item.volume
    data = vol.data if item.mask is None else np.where(item.mask.data > 0, vol.data, 0)
    y = scan_on_grid(data, vol.affine, item.transform, grid.affine, grid.shape)
    return torch.from_numpy(y)[None, None].to(device)


def refine_on(
    fine: Atlas, atlas: Atlas, dp: torch.Tensor, item: PreparedScan, cfg: SegmentConfig
) -> tuple[torch.Tensor, dict]:
    """dp (1, 3, D, H, W) on ``atlas``'s working grid carried onto ``fine``'s grid and optimised there
    on the scan (``item``, resampled from its own file); the field on the fine grid and a record."""
    from ltnet.refine import carry_field, optimise_field

    y_t = scan_on(fine, item, dp.device)
    dp0 = carry_field(dp, atlas.affine, fine.affine, fine.shape)
    fit = optimise_field(fine.image_tensor(dp.device), y_t, dp0, cfg.refine_steps, cfg.refine_lr)
    rec = {"steps": cfg.refine_steps, "spacing": fine.spacing, "lr": cfg.refine_lr}
    return fit.dp, {**rec, "loss_before": fit.loss_before, "loss_after": fit.loss_after}


def segment_files(
    atlas: Atlas,
    prep: PrepConfig,
    model: LTNet | None,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    cfg: SegmentConfig | None = None,
    cache: PrepCache | None = None,
    masks: Sequence[str | os.PathLike] | None = None,
    amp: bool = True,
    progress: bool = True,
    overwrite: bool = False,
    workers: int = 0,
    shard: tuple[int, int] = (0, 1),
    atlases: Sequence[Atlas] | None = None,
) -> list[Path]:
    """Segment each input file and write ``<subject>_labels<ext>`` (with ``cfg``'s field, warped
    atlas, QC map and probability) into ``out_dir``, on the input's own grid with its format,
    affine and header.

    ``atlas`` fixes the working grid every scan is prepared onto; ``atlases`` (default: ``atlas``
    alone), all on that grid, are the ones whose labels are transferred: with several, each scan
    takes the ``cfg.atlases`` most similar (all by default), transfers each one's labels the same
    way and fuses them by ``cfg.fusion`` (:func:`fuse_to_native`).

    ``model`` None transfers labels through the affine alone. ``cfg`` (default
    :class:`~ltnet.config.SegmentConfig`): the interpolation, the extra outputs, test-time
    adaptation on the working grid (``adapt_steps``, :mod:`ltnet.adapt`) and the finer grid the
    field is carried to, refined on (``refine_steps``) and the labels transferred from
    (``refine_spacing``, :mod:`ltnet.refine`); both act only where there is a model's field.
    ``save_qc`` runs G_B as well and writes ``<subject>_qc<ext>``, the cycle error
    |dpF(t) + dpB(t + dpF(t))| in mm on the input's grid, with its mean inside each transferred
    structure in the subject's JSON record. ``save_prob`` writes ``<subject>_prob<ext>``: the
    winning label's probability (fused over the atlases; with one atlas, its interpolated
    one-hot labels). The record (``<subject>_segment.json``) also holds ``cfg``, and with one
    atlas the forward field's folding and log-Jacobian spread over the transferred brain.

    Skipping finished subjects (unless ``overwrite``), ``workers``, ``shard`` and ``progress``:
    :func:`ltnet.cohort.for_each_scan`.
    """
    cfg = cfg or SegmentConfig()
    transfer = list(atlases) if atlases else [atlas]
    for a in transfer:
        if a.shape != atlas.shape or not np.allclose(a.affine, atlas.affine):
            raise LtnetError(f"atlas {a.name or '?'} is not on the working grid {atlas.shape}")
    several = min(len(transfer), cfg.atlases or len(transfer)) > 1
    if several:
        for flag, on in (
            ("--save-field", cfg.save_field),
            ("--save-warped", cfg.save_warped),
            ("--save-qc", cfg.save_qc),
        ):
            if on:
                raise LtnetError(f"{flag}: one per atlas; with several atlases, give --atlases 1")
    if cfg.save_qc and (model is None or model.g_b is None):
        raise LtnetError(
            "--save-qc needs a model with a backward generator (not voxelmorph/gan, not --affine-only)"
        )
    dtype = label_dtype(np.asarray(sorted({i for a in transfer for i in a.label_ids})))
    kinds = ["labels", *(["field"] if cfg.save_field else []), *(["warped"] if cfg.save_warped else [])]
    kinds += ["qc"] if cfg.save_qc else []
    kinds += ["prob"] if cfg.save_prob else []

    symmetric = cfg.symmetric and model is not None and model.g_b is not None
    fines = [finer_atlas(a, cfg, prep) if model is not None else None for a in transfer]
    record = {
        "affine_only": model is None,
        "symmetric": symmetric,
        "config": cfg.to_dict(),
        "refined_spacing": next((f.spacing for f in fines if f is not None), None),
    }

    def field_of(
        i: int, dp: torch.Tensor, y: torch.Tensor, item: PreparedScan, extra: dict
    ) -> tuple[Atlas, torch.Tensor, torch.Tensor]:
        """Atlas ``i``'s field after adaptation (on ``y``, the scan on the working grid) and
        refinement, the atlas on that field's grid, and the field after adaptation on the working
        grid (where QC runs G_B, as it was trained)."""
        a = transfer[i]
        if cfg.adapt_steps:
            from ltnet.adapt import adapt

            r = adapt(
                model, a.image_tensor(dp.device), y, cfg.adapt_steps, cfg.adapt_mode, cfg.adapt_lr, dp0=dp
            )
            dp = r.dp
            extra.setdefault("adapt", []).append(
                {
                    "steps": cfg.adapt_steps,
                    "mode": cfg.adapt_mode,
                    "lr": r.lr,
                    "loss_before": r.loss_before,
                    "loss_after": r.loss_after,
                }
            )
        fine = fines[i]
        if fine is None:
            return a, dp, dp
        dp_fine, rec = refine_on(fine, a, dp, item, cfg)
        extra.setdefault("refine", []).append(rec)
        return fine, dp_fine, dp

    def process(item: PreparedScan, out: dict[str, Path]) -> dict:
        vol = item.volume
        order = rank_atlases(transfer, item.image, cfg.atlases)
        chosen = [transfer[i] for i in order]
        y = torch.from_numpy(np.ascontiguousarray(item.image, dtype=np.float32))[None, None]
        extra: dict = dict(record)
        clock = time.perf_counter()
        parts = extra["seconds_parts"] = {}  # where a subject's seconds go
        if model is not None:
            dps = predict_fields(model, chosen, item.image, amp, symmetric)
            parts["networks"] = time.perf_counter() - clock
            y = y.to(dps.device)
            pairs = [field_of(i, dps[j : j + 1], y, item, extra) for j, i in enumerate(order)]
            parts["optimisation"] = time.perf_counter() - clock - parts["networks"]
        else:
            pairs = [(a, None, None) for a in chosen]
        for key in ("adapt", "refine"):  # one atlas: one record, as before several atlases
            if key in extra and len(chosen) == 1:
                extra[key] = extra[key][0]
        if len(chosen) > 1 or cfg.save_prob:
            clock = time.perf_counter()
            grid = pairs[0][0]
            scan = y if grid is chosen[0] else scan_on(grid, item, y.device)
            labels, prob, extra["fusion"] = fuse_to_native(
                [p[0] for p in pairs], [p[1] for p in pairs], scan, item.transform, vol, cfg.fusion
            )
            parts["fusion"] = time.perf_counter() - clock
            if cfg.save_prob:
                save_like(prob, vol, out["prob"], dtype=np.float32)
            if len(chosen) > 1:
                save_like(labels, vol, out["labels"], dtype=dtype)
                return extra
        (target, dp, dp_working), a = pairs[0], chosen[0]
        with_extras = cfg.save_field or cfg.save_warped
        seg = to_native(target, dp, item.transform, vol, cfg.interp, with_extras=with_extras)
        save_like(seg.labels, vol, out["labels"], dtype=dtype)
        for kind, data in (("field", seg.field_mm), ("warped", seg.warped)):
            if kind in out and data is not None:
                save_like(data, vol, out[kind], dtype=np.float32)
        if dp is not None:
            extra["deformation"] = field_metrics(target, dp)
        if cfg.save_qc and dp is not None:
            qc = cycle_error_native(model, a, dp_working, item.transform, vol, amp)
            save_like(qc, vol, out["qc"], dtype=np.float32)
            extra["qc"] = qc_scores(qc, seg.labels, a.label_ids)
        return extra

    return for_each_scan(
        inputs, out_dir, kinds, atlas, prep, process, cache, masks, overwrite, workers, shard, progress
    )

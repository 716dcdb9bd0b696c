"""Label transfer (SPEC, 'Inference'): ``dpF = G_F(x, y)``; the segmentation of y is ``x_s o dpF``.

Results go straight back to each scan's own grid: a native voxel u is carried to the working grid
through the inverse of the preparation's affine map, then along dpF into the atlas, where the
atlas's one-hot labels are sampled: one interpolation, no resampling of label ids. A prealigned
scan is the special case of an identity map on the atlas grid.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltnet.atlas import Atlas
from ltnet.cache import PrepCache
from ltnet.checkpoint import checkpoint_config, generator_state, load_checkpoint
from ltnet.config import TrainConfig
from ltnet.errors import LtnetError
from ltnet.io import Volume, load_image, load_mask, pair_masks, save_like, subject_names
from ltnet.io.atomic import atomic_write_text, ensure_writable_dir
from ltnet.io.image import label_dtype
from ltnet.io.naming import split_ext
from ltnet.io.resample import apply_affine, grid_coords, resample_labels, sample_at, sample_labels
from ltnet.model import LTNet, build_models
from ltnet.prepare import PrepConfig, to_working_grid
from ltnet.runtime import autocast_context
from ltnet.trilinear import voxel_coords

INTERP_MODES = ("linear", "nearest")


@dataclass(frozen=True)
class TrainedModel:
    """What ``segment`` needs from a run: the generators, the configs and the atlas."""

    model: LTNet
    config: TrainConfig
    prep: PrepConfig
    atlas: Atlas
    step: int


def load_trained(run_dir: str | os.PathLike, device: torch.device | str = "cpu") -> TrainedModel:
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
    return TrainedModel(model, cfg, prep, Atlas.from_state(state["atlas"]), int(state["step"]))


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
def predict_field(model: LTNet, atlas: Atlas, image: np.ndarray, amp: bool = True) -> torch.Tensor:
    """dpF (1, 3, D, H, W) in working voxels for a prepared image (X, Y, Z) in [0, 1]."""
    if image.shape != atlas.shape:
        raise ValueError(f"image {image.shape} is not on the atlas grid {atlas.shape}")
    device = next(model.parameters()).device
    y = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device)
    with autocast_context(device, amp):
        return model.g_f(atlas.image_tensor(device), y).float()


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
    spacing = float(np.linalg.norm(atlas.affine[:3, 0]))
    err = cycle_error(dp_f.float(), dp_b, model.warp) * spacing  # (1, D, H, W) mm
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
    box = _native_region(np.linalg.inv(atlas.affine) @ to_scan @ native.affine, atlas.shape, native.shape)
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


def _native_region(
    native_to_working: np.ndarray, working_shape: Sequence[int], native_shape: Sequence[int]
) -> tuple[slice, slice, slice] | None:
    """The native voxels whose working-grid coordinates may lie within (-1, n): the bounding box of
    the working box's corners mapped back into the scan, clipped to the scan; None if empty."""
    corners = np.array(
        [
            [x, y, z, 1.0]
            for x in (-1, working_shape[0])
            for y in (-1, working_shape[1])
            for z in (-1, working_shape[2])
        ]
    )
    back = (np.linalg.inv(native_to_working) @ corners.T)[:3]
    lo = np.maximum(np.floor(back.min(1)).astype(int), 0)
    hi = np.minimum(np.ceil(back.max(1)).astype(int) + 1, np.asarray(native_shape))
    if (hi <= lo).any():
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


@dataclass(frozen=True)
class _Loaded:
    """One scan read and prepared (in a DataLoader worker), ready for the network."""

    index: int
    volume: Volume
    image: np.ndarray
    transform: np.ndarray


class _ScanDataset(torch.utils.data.Dataset):
    """Reading and preparation of each scan: the part that overlaps with the network."""

    def __init__(self, items: list[tuple[int, Path, Path | None]], atlas: Atlas, prep: PrepConfig, cache):
        self.items, self.atlas, self.prep, self.cache = items, atlas, prep, cache

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> _Loaded | LtnetError:
        index, path, mask_path = self.items[i]
        a = self.atlas
        try:
            vol = load_image(path)
            mask = load_mask(mask_path, vol) if mask_path else None
            p = to_working_grid(vol, a.image, a.labels, a.affine, self.prep, self.cache, mask, a.skull)
        except LtnetError as e:  # handed back as a value: a worker's raise would carry its traceback
            return e
        return _Loaded(index, vol, p.image, p.transform)


def _as_is(x):  # DataLoader would turn arrays into tensors; the network wants them as they are
    return x


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) -> (i, n): this process's share of a folder."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise LtnetError(f"--shard {text!r}: expected i/n, for example 0/4") from None
    if not 0 <= i < n:
        raise LtnetError(f"--shard {text!r}: expected 0 <= i < n")
    return i, n


def segment_files(
    atlas: Atlas,
    prep: PrepConfig,
    model: LTNet | None,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    save_field: bool = False,
    save_warped: bool = False,
    interp: str = "linear",
    cache: PrepCache | None = None,
    masks: Sequence[str | os.PathLike] | None = None,
    amp: bool = True,
    progress: bool = True,
    overwrite: bool = False,
    workers: int = 0,
    shard: tuple[int, int] = (0, 1),
    adapt_steps: int = 0,
    adapt_mode: str = "field",
    save_qc: bool = False,
    adapt_lr: float | None = None,
) -> list[Path]:
    """Segment each input file and write ``<subject>_labels<ext>`` (plus optional field and warped
    atlas) into ``out_dir``, on the input's own grid with its format, affine and header.

    ``model`` None transfers labels through the affine alone. A subject whose outputs all exist is
    skipped unless ``overwrite``: outputs are written atomically, so an existing file is complete,
    and an interrupted run picks up where it stopped. Scans stream: ``workers`` DataLoader
    processes read and prepare the next scans while the network runs on this one, and memory holds
    a few scans whatever the folder's size. ``shard`` (i, n): this call takes every n-th scan from
    the i-th, so n processes (or GPUs) split one folder without doing any scan twice.

    ``adapt_steps`` > 0 refines each field on its own pair first (:mod:`ltnet.adapt`, ``adapt_mode``
    ``field`` or ``weights``; ``adapt_lr`` None: that mode's default). ``save_qc`` runs G_B as well
    and writes ``<subject>_qc<ext>``, the cycle error |dpF(t) + dpB(t + dpF(t))| in mm on the
    input's grid, with its mean inside each transferred structure in the subject's JSON record.
    The record also holds the forward field's folding and log-Jacobian spread over the transferred
    brain.
    """
    if save_qc and (model is None or model.g_b is None):
        raise LtnetError(
            "--save-qc needs a model with a backward generator (not voxelmorph/gan, not --affine-only)"
        )
    if adapt_steps and model is None:
        raise LtnetError("--adapt-steps needs a model (not --affine-only)")
    paths = [Path(p) for p in inputs]
    names = subject_names(paths)
    mask_paths = pair_masks(paths, [Path(m) for m in masks] if masks else None)
    out_dir = ensure_writable_dir(out_dir)
    dtype = label_dtype(np.asarray(atlas.label_ids))
    i, n = shard

    kinds = ["labels", *(["field"] if save_field else []), *(["warped"] if save_warped else [])]
    kinds += ["qc"] if save_qc else []

    def outputs(k: int) -> dict[str, Path]:
        ext = split_ext(paths[k])[1]
        files = {kind: out_dir / f"{names[k]}_{kind}{ext}" for kind in kinds}
        return {**files, "record": out_dir / f"{names[k]}_segment.json"}

    mine = range(i, len(paths), n)
    done = [k for k in mine if not overwrite and all(p.exists() for p in outputs(k).values())]
    written = [p for k in done for p in outputs(k).values()]
    todo = [(k, paths[k], mask_paths[k]) for k in mine if k not in done]
    loader = torch.utils.data.DataLoader(
        _ScanDataset(todo, atlas, prep, cache),
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=2 if workers else None,
    )
    items = loader
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(loader, desc="segment", unit="scan", dynamic_ncols=True, total=len(todo))
    for item in items:
        if isinstance(item, LtnetError):
            raise item
        vol, out = item.volume, outputs(item.index)
        t0 = time.perf_counter()
        dp = predict_field(model, atlas, item.image, amp) if model is not None else None
        extra: dict = {}
        if dp is not None and adapt_steps:
            from ltnet.adapt import adapt

            y = torch.from_numpy(np.ascontiguousarray(item.image, dtype=np.float32))[None, None].to(dp.device)
            r = adapt(model, atlas.image_tensor(dp.device), y, adapt_steps, adapt_mode, adapt_lr, dp0=dp)
            dp = r.dp
            extra["adapt"] = {
                "steps": adapt_steps,
                "mode": adapt_mode,
                "lr": r.lr,
                "loss_before": r.loss_before,
                "loss_after": r.loss_after,
            }
        seg = to_native(atlas, dp, item.transform, vol, interp, with_extras=save_field or save_warped)
        written.append(save_like(seg.labels, vol, out["labels"], dtype=dtype))
        for kind, data in (("field", seg.field_mm), ("warped", seg.warped)):
            if kind in out and data is not None:
                written.append(save_like(data, vol, out[kind], dtype=np.float32))
        if dp is not None:
            extra["deformation"] = field_metrics(atlas, dp)
        if save_qc and dp is not None:
            qc = cycle_error_native(model, atlas, dp, item.transform, vol, amp)
            written.append(save_like(qc, vol, out["qc"], dtype=np.float32))
            extra["qc"] = qc_scores(qc, seg.labels, atlas.label_ids)
        record = {
            "subject": names[item.index],
            "image": str(paths[item.index].resolve()),
            "mask": str(Path(mask_paths[item.index]).resolve()) if mask_paths[item.index] else None,
            "outputs": {kind: out[kind].name for kind in kinds},
            "affine_only": model is None,
            "seconds": round(time.perf_counter() - t0, 3),  # network and transfer, after preparation
            **extra,
        }
        atomic_write_text(out["record"], json.dumps(record, indent=2) + "\n")
        written.append(out["record"])
    return written

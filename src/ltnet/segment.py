"""Label transfer: ``dpF = G_F(x, y)``, then the segmentation of y is ``x_s o dpF`` (SPEC, 'Inference')."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltnet.atlas import Atlas
from ltnet.checkpoint import load_checkpoint
from ltnet.config import TrainConfig
from ltnet.errors import LtnetError
from ltnet.io import Volume, load_image, save_like, subject_names
from ltnet.io.atomic import ensure_writable_dir
from ltnet.io.image import label_dtype
from ltnet.io.naming import split_ext
from ltnet.model import LTNet, build_models
from ltnet.nn import SpatialTransformer
from ltnet.prepare import normalize_intensity
from ltnet.train import autocast_context

INTERP_MODES = ("linear", "nearest")


@dataclass(frozen=True)
class TrainedModel:
    """What ``segment`` needs from a run: the forward generator, its config and the atlas."""

    model: LTNet
    config: TrainConfig
    atlas: Atlas
    step: int


def load_trained(run_dir: str | os.PathLike, device: torch.device | str = "cpu") -> TrainedModel:
    state = load_checkpoint(run_dir)
    cfg = TrainConfig.from_dict(state["config"])
    model, _ = build_models(cfg, device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise LtnetError(
            f"{run_dir}: checkpoint weights do not fit this ltnet's networks ({str(e)[:200]})"
        ) from None
    model.eval()
    return TrainedModel(model, cfg, Atlas.from_state(state["atlas"]), int(state["step"]))


def transfer_labels(
    labels: torch.Tensor,
    label_ids: Sequence[int],
    dp: torch.Tensor,
    interp: str = "linear",
    chunk: int = 8,
) -> torch.Tensor:
    """Warp an atlas label map (D, H, W) of ids by ``dp`` (1, 3, D, H, W); return ids (D, H, W).

    ``linear``: each label's one-hot channel is warped trilinearly and the most probable label wins
    (argmax), ``chunk`` channels at a time so memory does not grow with the number of labels.
    ``nearest``: the id map is sampled at the nearest voxel.
    """
    if interp not in INTERP_MODES:
        raise LtnetError(f"unknown interpolation {interp!r}: expected one of {', '.join(INTERP_MODES)}")
    if dp.ndim != 5 or dp.shape[0] != 1 or dp.shape[2:] != labels.shape:
        raise ValueError(
            f"expected labels (D, H, W) and a field (1, 3, D, H, W) on one grid, got "
            f"{tuple(labels.shape)} and {tuple(dp.shape)}"
        )
    ids = torch.as_tensor(list(label_ids), dtype=torch.int64, device=dp.device)
    dp = dp.float()
    labels = labels.to(dp.device)
    if interp == "nearest":
        warped = SpatialTransformer("nearest")(labels[None, None].float(), dp)
        return warped[0, 0].round().to(torch.int64)
    warp = SpatialTransformer("bilinear")
    best_p = torch.full(labels.shape, -1.0, device=dp.device)
    best_i = torch.zeros(labels.shape, dtype=torch.int64, device=dp.device)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        onehot = (labels[None] == part[:, None, None, None]).float()[None]
        p, i = warp(onehot, dp)[0].max(dim=0)
        better = p > best_p
        best_p = torch.where(better, p, best_p)
        best_i = torch.where(better, part[i], best_i)
    return best_i


@dataclass(frozen=True)
class Segmentation:
    """One image's result on the working grid: labels (X, Y, Z) int32, field (X, Y, Z, 3) in mm
    of world space, warped atlas (X, Y, Z) float32."""

    labels: np.ndarray
    field_mm: np.ndarray
    warped: np.ndarray


@torch.inference_mode()
def segment_array(trained: TrainedModel, image: np.ndarray, interp: str = "linear") -> Segmentation:
    """Segment one image (X, Y, Z) already on the atlas grid (intensities normalised here)."""
    atlas, model = trained.atlas, trained.model
    if image.shape != atlas.shape:
        raise ValueError(f"image {image.shape} is not on the atlas grid {atlas.shape}")
    device = next(model.parameters()).device
    x = atlas.image_tensor(device)
    y = torch.from_numpy(normalize_intensity(image))[None, None].to(device)
    with autocast_context(device, trained.config.amp):
        dp = model.g_f(x, y).float()
    labels = transfer_labels(torch.from_numpy(atlas.labels).to(device), atlas.label_ids, dp, interp)
    warped = model.warp(x, dp)[0, 0]
    # voxel displacement (i, j, k) -> world millimetres through the grid's linear part
    lin = torch.as_tensor(atlas.affine[:3, :3], dtype=torch.float32, device=device)
    field_mm = torch.einsum("rc,cdhw->dhwr", lin, dp[0])
    return Segmentation(
        labels.to(torch.int32).cpu().numpy(), field_mm.cpu().numpy(), warped.float().cpu().numpy()
    )


def segment_files(
    run_dir: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    save_field: bool = False,
    save_warped: bool = False,
    interp: str = "linear",
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[Path]:
    """Segment each input file; write ``<subject>_labels<ext>`` (and optional field and warped
    atlas) beside each other in ``out_dir``, with the input's format, affine and header."""
    paths = [Path(p) for p in inputs]
    names = subject_names(paths)
    trained = load_trained(run_dir, device)
    out_dir = ensure_writable_dir(out_dir)
    dtype = label_dtype(np.asarray(trained.atlas.label_ids))
    written: list[Path] = []
    it = zip(paths, names, strict=True)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(list(it), desc="segment", unit="scan", dynamic_ncols=True)
    for path, name in it:
        vol: Volume = load_image(path)
        if vol.shape != trained.atlas.shape:
            raise LtnetError(
                f"{path}: grid {vol.shape} differs from the model's atlas grid {trained.atlas.shape}: "
                "inputs must be affinely pre-aligned to the atlas and on its grid"
            )
        seg = segment_array(trained, vol.data, interp)
        ext = split_ext(path)[1]
        out = out_dir / f"{name}_labels{ext}"
        written.append(save_like(seg.labels, vol, out, dtype=dtype))
        if save_field:
            written.append(save_like(seg.field_mm, vol, out_dir / f"{name}_field{ext}", dtype=np.float32))
        if save_warped:
            written.append(save_like(seg.warped, vol, out_dir / f"{name}_warped{ext}", dtype=np.float32))
    return written

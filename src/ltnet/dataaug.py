"""DataAug (Zhao et al., CVPR 2019): one-shot segmentation by learned transformation augmentation.

The paper's other one-shot baseline, after the public ``brainstorm`` code:

1. spatial models: G_F, atlas to image (ltnet's ``voxelmorph`` variant, trained by
   :func:`ltnet.train.train`), and G_B, image to atlas (the same network and losses with the roles
   swapped), which brings each image into the atlas's space;
2. an appearance model A(x, y o dpB) -> psi (B, 1, D, H, W): the additive intensity change that
   turns the atlas into the back-warped image, trained with ``mean((x + psi - y o dpB)^2) +
   lambda_a mean |grad psi|^2``;
3. synthesis: the atlas and its labels moved by the spatial transform of one random image, with
   the appearance change of another (independently drawn): ``((x + psi_j) o dp_i, x_s o dp_i)``;
4. a segmenter trained on synthesised examples (and the atlas itself): by default a 2D U-Net over
   axial slices (brainstorm's ``n_seg_dims = 2``), from MONAI's ``UNet``; ``seg_dims=3`` for 3D.

New images are then segmented directly, without registration, on the working grid, and the
labels are carried back to each scan's own grid like ``ltnet segment``'s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ltnet import losses
from ltnet.adapt import pair_loss
from ltnet.atlas import Atlas
from ltnet.checkpoint import load_checkpoint, save_checkpoint
from ltnet.config import DataAugConfig, NetConfig, PrepConfig, TrainConfig
from ltnet.errors import LtnetError
from ltnet.io.atomic import atomic_write_text, ensure_writable_dir
from ltnet.nn import SpatialTransformer, VxmUNet
from ltnet.nn.padding import crop_to, pad_to_multiple
from ltnet.runtime import progress_steps
from ltnet.segment import load_trained, transfer_labels
from ltnet.train import train
from ltnet.trainset import TrainData

MODEL_NAME = "dataaug.pt"


def appearance_net() -> nn.Module:
    """A(x, y_back) -> psi: (B, 2, D, H, W) -> (B, 1, D, H, W), a small MONAI 3D U-Net whose last
    layer starts at zero, so that training starts from "no change" (as VoxelMorph's flow layer
    starts near zero): from MONAI's random init, psi began 14 times further from the target than
    no change at all, and 750 steps did not bring it below 1 (bench/investigations/dataaug_check.py)."""
    from monai.networks.nets import UNet

    net = UNet(3, 2, 1, (16, 32, 32, 32), (2, 2, 2), num_res_units=0)
    last = net.model[-1].conv
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net


def backward_net(net: NetConfig) -> VxmUNet:
    """G_B, image to atlas: the spatial model's layout (brainstorm's ``flow-bck``)."""
    return VxmUNet(net.enc, net.dec, half_res=net.half_res)


def back_warped(g_b: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """y o dpB, the image brought into the atlas's space: x, y (1, 1, D, H, W) -> (1, 1, D, H, W)."""
    return SpatialTransformer("bilinear")(y, g_b(y, x))


def appearance_change(app: nn.Module, x: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """psi = A(x, y o dpB): x, back (1, 1, D, H, W) -> (1, 1, D, H, W)."""
    padded, size = pad_to_multiple(torch.cat([x, back], 1), 8)
    return crop_to(app(padded), size)


def appearance_residual(x: torch.Tensor, psis: torch.Tensor, backs: torch.Tensor) -> float:
    """How much of the atlas-to-image difference the appearance changes ``psis`` miss, over the
    back-warped images ``backs`` (both (N, 1, D, H, W); x (1, 1, D, H, W)):
    ``sum|x + psi - back| / sum|x - back|`` pooled over every image and voxel (0: all explained;
    1: no better than no change; NaN when every image equals the atlas).

    Pooled, not a mean of per-image ratios: a pool image close to the atlas (the atlas itself, when
    it is in the pool) has a near-zero denominator and would dominate such a mean."""
    base = float((x - backs).abs().sum())
    miss = float((x + psis - backs).abs().sum())
    return miss / base if base > 1e-6 * backs.numel() else float("nan")


def segmenter(num_classes: int, dims: int) -> nn.Module:
    """The segmentation U-Net (MONAI ``UNet``), 1 channel in, ``num_classes`` logits out."""
    from monai.networks.nets import UNet

    if dims not in (2, 3):
        raise LtnetError(f"segmenter dimensions must be 2 or 3, got {dims}")
    return UNet(dims, 1, num_classes, (32, 64, 128, 256), (2, 2, 2), num_res_units=2)


def synthesise(
    x: torch.Tensor, labels: torch.Tensor, label_ids: Sequence[int], dp: torch.Tensor, psi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One labelled example: ``((x + psi) o dp, labels o dp)``.

    x, psi: (1, 1, D, H, W); labels: atlas ids (D, H, W); dp: (1, 3, D, H, W) voxels. Returns the
    image (1, 1, D, H, W) and its ids (D, H, W), both moved by the same field (labels by one-hot
    trilinear interpolation and argmax)."""
    warp = SpatialTransformer("bilinear")
    return warp(x + psi, dp), transfer_labels(labels, label_ids, dp)


def segment_volume(net: nn.Module, image: torch.Tensor, dims: int) -> torch.Tensor:
    """Class logits' argmax (D, H, W) of an image (1, 1, D, H, W): slice by slice along the last
    axis (axial on ltnet's RAS grid) for a 2D net, whole for a 3D one."""
    net.eval()
    with torch.inference_mode():
        if dims == 3:
            padded, size = pad_to_multiple(image, 8)
            return crop_to(net(padded), size)[0].argmax(0)
        slices = image[0, 0].permute(2, 0, 1)[:, None]  # (W, 1, D, H)
        out = []
        for chunk in slices.split(16):
            padded, size = pad_to_multiple(chunk, 8)
            out.append(crop_to(net(padded), size).argmax(1))
        return torch.cat(out).permute(1, 2, 0)


def train_backward(
    g_b: nn.Module,
    x: torch.Tensor,
    ys: torch.Tensor,
    steps: int,
    cfg: TrainConfig,
    rng: np.random.Generator,
    progress: bool = True,
) -> None:
    """Train ``g_b`` (moving, fixed) -> field to carry each image onto the atlas: ``L_sim(x, y o dp)
    + lambda2 L_smooth(dp)``, the voxelmorph variant's objective with the roles swapped. x (1, 1,
    D, H, W); ys (N, 1, D, H, W); Adam with ``cfg``'s learning rate and betas."""
    opt = torch.optim.Adam(g_b.parameters(), lr=cfg.lr, betas=cfg.betas)
    warp = SpatialTransformer("bilinear")
    g_b.train()
    for _ in progress_steps(range(steps), progress, "backward"):
        y = ys[rng.integers(len(ys))][None]
        loss = pair_loss(y, x, g_b(y, x), warp, cfg.lncc_kernel, cfg.lambda_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def train_dataaug(
    cfg: DataAugConfig,
    data: TrainData,
    run_dir: str | os.PathLike,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Train the spatial, appearance and segmentation models; write ``run_dir/dataaug.pt``."""
    device = torch.device(device)
    run_dir = ensure_writable_dir(run_dir)
    if (run_dir / MODEL_NAME).exists():
        raise LtnetError(f"{run_dir}: already holds a DataAug model; choose another --out")
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    atlas = data.atlas
    x = atlas.image_tensor(device)
    ys = torch.from_numpy(data.images)[:, None].to(device)  # (N, 1, D, H, W)
    n = ys.shape[0]
    times: dict[str, float] = {}

    # 1. G_F: the product's own voxelmorph training, in a run folder of its own
    t0 = time.perf_counter()
    spatial = TrainConfig(
        variant="voxelmorph",
        steps=cfg.spatial_steps,
        seed=cfg.seed,
        lr=cfg.lr,
        net=NetConfig(half_res=cfg.half_res),
        checkpoint_every=max(1, cfg.spatial_steps),
    )
    spatial_ckpt = train(spatial, data, run_dir / "spatial", device=device, progress=progress)
    g_f = load_trained(spatial_ckpt, device).model.g_f
    times["spatial_forward"] = time.perf_counter() - t0

    # 2. G_B: image to atlas, the same network and losses with the roles swapped
    t0 = time.perf_counter()
    g_b = backward_net(spatial.net).to(device)
    train_backward(g_b, x, ys, cfg.spatial_steps, spatial, rng, progress)
    times["spatial_backward"] = time.perf_counter() - t0

    # 3. appearance: psi = A(x, y o dpB), so that x + psi matches the back-warped image
    t0 = time.perf_counter()
    g_b.eval()
    with torch.no_grad():
        backs = torch.cat([back_warped(g_b, x, ys[i : i + 1]) for i in range(n)])
    app = appearance_net().to(device)
    opt = torch.optim.Adam(app.parameters(), lr=cfg.lr)
    log = []
    for step in progress_steps(range(cfg.appearance_steps), progress, "appearance"):
        yb = backs[rng.integers(n)][None]
        psi = appearance_change(app, x, yb)
        loss = ((x + psi - yb) ** 2).mean() + cfg.lambda_appearance * losses.gradient_loss(psi)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log.append({"stage": "appearance", "step": step + 1, "loss": float(loss.detach())})
    app.eval()
    with torch.no_grad():
        psis = torch.cat([appearance_change(app, x, backs[i : i + 1]) for i in range(n)])
    residual = appearance_residual(x, psis, backs)
    times["appearance"] = time.perf_counter() - t0
    del backs

    # 4. the segmenter, on examples synthesised on the fly from independent (spatial, appearance) draws
    t0 = time.perf_counter()
    with torch.no_grad():
        fields = torch.cat([g_f(x, ys[i : i + 1]) for i in range(n)])
    labels = torch.from_numpy(atlas.labels).to(device)
    lut = torch.zeros(int(max(atlas.label_ids)) + 1, dtype=torch.long, device=device)
    lut[torch.tensor(atlas.label_ids, device=device)] = torch.arange(len(atlas.label_ids), device=device)
    seg = segmenter(len(atlas.label_ids), cfg.seg_dims).to(device)
    opt = torch.optim.Adam(seg.parameters(), lr=cfg.seg_lr)
    from monai.losses import DiceCELoss

    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    seg_steps = 0
    for step in progress_steps(range(cfg.seg_steps), progress, "segmenter"):
        spent = sum(times.values()) + time.perf_counter() - t0
        if cfg.time_budget is not None and step > 0 and spent >= cfg.time_budget:
            break  # at least one step, so that the model is never the untrained network
        with torch.no_grad():
            if rng.random() < cfg.atlas_fraction:
                img, lab = x, labels
            else:
                img, lab = synthesise(
                    x, labels, atlas.label_ids, fields[rng.integers(n)][None], psis[rng.integers(n)][None]
                )
        target = lut[lab][None, None]  # (1, 1, D, H, W) class indices
        if cfg.seg_dims == 2:
            # slices that hold some label: the others teach only background
            k = torch.nonzero(lab.flatten(0, 1).any(0)).flatten()
            pick = k[torch.from_numpy(rng.integers(len(k), size=cfg.slices_per_step)).to(device)]
            inp = img[0, 0][..., pick].permute(2, 0, 1)[:, None]
            tgt = target[0, 0][..., pick].permute(2, 0, 1)[:, None]
            inp, size = pad_to_multiple(inp, 8)
            logits = crop_to(seg(inp), size)
        else:
            padded, size = pad_to_multiple(img, 8)
            logits, tgt = crop_to(seg(padded), size), target
        loss = loss_fn(logits, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log.append({"stage": "segmenter", "step": step + 1, "loss": float(loss.detach())})
        seg_steps = step + 1
    times["segmenter"] = time.perf_counter() - t0
    done = {
        "seg_steps_run": seg_steps,
        "appearance_residual": residual if np.isfinite(residual) else None,
        "seconds": times,
    }

    path = save_checkpoint(
        run_dir / MODEL_NAME,
        {
            "config": asdict(cfg),
            "step": seg_steps,
            "model": seg.state_dict(),
            "g_b": g_b.state_dict(),
            "appearance": app.state_dict(),
            "atlas": atlas.to_state(),
            "prep": data.prep.to_dict(),
            **done,
        },
    )
    atomic_write_text(run_dir / "log.jsonl", "".join(json.dumps(r) + "\n" for r in log))
    atomic_write_text(run_dir / "config.json", json.dumps({**asdict(cfg), **done}, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class DataAugModel:
    """A trained DataAug segmenter with its config, atlas and preparation (what segmenting needs)."""

    config: DataAugConfig
    net: nn.Module
    atlas: Atlas
    prep: PrepConfig


def load_dataaug(run_dir: str | os.PathLike, device: torch.device | str = "cpu") -> DataAugModel:
    """The DataAug model of a run folder (or its ``dataaug.pt``), on ``device``, in eval mode."""
    p = Path(run_dir)
    state = load_checkpoint(p / MODEL_NAME if p.is_dir() else p)
    try:
        cfg = DataAugConfig.from_dict(state["config"])
        atlas = Atlas.from_state(state["atlas"])
        net = segmenter(len(atlas.label_ids), cfg.seg_dims)
        net.load_state_dict(state["model"])
    except (TypeError, KeyError, RuntimeError) as e:
        raise LtnetError(
            f"{run_dir}: not a DataAug model ({type(e).__name__}: {str(e).splitlines()[0][:160]})"
        ) from None
    return DataAugModel(cfg, net.to(device).eval(), atlas, PrepConfig.from_dict(state["prep"]))


def load_transforms(
    run_dir: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """A DataAug run's (G_F, G_B, appearance model), in eval mode: what synthesises its examples."""
    p = Path(run_dir)
    state = load_checkpoint(p / MODEL_NAME)
    spatial = load_trained(p / "spatial", device)
    g_b, app = backward_net(spatial.config.net), appearance_net()
    g_b.load_state_dict(state["g_b"])
    app.load_state_dict(state["appearance"])
    return spatial.model.g_f, g_b.to(device).eval(), app.to(device).eval()


def segment_dataaug(
    model: DataAugModel,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    cache=None,
    progress: bool = True,
    overwrite: bool = False,
) -> list[Path]:
    """Segment each input with the segmenter on the working grid; write ``<subject>_labels<ext>``
    (and a ``_segment.json`` record) on the input's own grid, like ``ltnet segment`` (the same
    cohort loop: :func:`ltnet.cohort.for_each_scan`)."""
    from ltnet.cohort import PreparedScan, for_each_scan
    from ltnet.io import save_like
    from ltnet.io.image import label_dtype
    from ltnet.segment import labels_to_native

    atlas = model.atlas
    ids = np.asarray(atlas.label_ids)
    device = next(model.net.parameters()).device

    def process(item: PreparedScan, out: dict[str, Path]) -> dict:
        img = torch.from_numpy(np.ascontiguousarray(item.image, dtype=np.float32))[None, None].to(device)
        on_grid = ids[segment_volume(model.net, img, model.config.seg_dims).cpu().numpy()].astype(np.int32)
        native = labels_to_native(on_grid, atlas.affine, item.transform, item.volume)
        save_like(native, item.volume, out["labels"], dtype=label_dtype(ids))
        return {"method": "dataaug"}

    return for_each_scan(
        inputs, out_dir, ["labels"], atlas, model.prep, process, cache, overwrite=overwrite, progress=progress
    )

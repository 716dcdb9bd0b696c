"""The supervised upper bound of bench/accuracy.py: a MONAI U-Net trained leave-one-out.

For each test subject, a 3D U-Net (MONAI ``UNet``: 16-32-64-128-256 channels, two residual units
per level) is trained on the six other labelled subjects, on ltnet's working grid (each scan
prepared exactly as ``ltnet train`` prepares it: ANTs affine to the atlas, same box and spacing),
with Dice + cross-entropy over background and the SPEC's 28 structures. Its prediction is carried
back to the subject's native grid by one-hot interpolation and argmax, and scored there like every
other row. Each fold's scores are kept as a part of the row (``unet.partial.json``), so the six
folds can be spread over several sessions.
"""

from __future__ import annotations

import time

import numpy as np
import torch


def leave_one_out(bench) -> dict:
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    from ltnet.atlas import load_atlas
    from ltnet.cache import PrepCache
    from ltnet.config import PrepConfig
    from ltnet.io import load_image, load_labels, save_like
    from ltnet.io.resample import resample_labels
    from ltnet.labels import EVAL_LABELS
    from ltnet.prepare import prepare_scan
    from ltnet.segment import labels_to_native

    bench.pin_preparation()  # the same preparation as every other row
    a = bench.atlas()
    prep = PrepConfig(spacing=bench.p.spacing)
    atlas = load_atlas(bench.images[a], bench.labels[a], prep)
    cache = PrepCache(bench.cache)
    ids = np.array([0, *EVAL_LABELS])
    lut = np.zeros(int(max(EVAL_LABELS)) + 1, np.int64)
    lut[ids] = np.arange(len(ids))

    def classes(lab: np.ndarray) -> np.ndarray:
        lab = np.where(np.isin(lab, ids), lab, 0)
        return lut[lab]

    grid = {}
    for n in bench.images:
        vol = load_image(bench.images[n])
        p = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache)
        seg = load_labels(bench.labels[n])
        lab = resample_labels(seg.data, seg.affine, atlas.affine, atlas.shape, p.transform)
        grid[n] = (p.image, classes(lab), p.transform, vol)

    pred_dir = bench.root / "unet-labels"
    pred_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(bench.p.device)
    for test in bench.test_names():
        if test in bench.parts("unet"):
            continue
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        net = UNet(3, 1, len(ids), (16, 32, 64, 128, 256), (2, 2, 2, 2), num_res_units=2).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
        train = [n for n in bench.images if n != test]
        pad = [(-s) % 16 for s in atlas.shape]

        def tensor(x: np.ndarray, pad=pad) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(x))[None, None]
            return torch.nn.functional.pad(t, (0, pad[2], 0, pad[1], 0, pad[0])).to(device)

        t0 = time.perf_counter()
        net.train()
        for _ in range(bench.p.unet_steps):
            n = train[rng.integers(len(train))]
            img, lab = grid[n][0], grid[n][1]
            # intensity augmentation only: flips would swap left and right labels
            img = np.clip(img * rng.uniform(0.9, 1.1) + rng.normal(0, 0.02), 0, None).astype(np.float32)
            loss = loss_fn(net(tensor(img)), tensor(lab))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train_seconds = time.perf_counter() - t0
        net.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            logits = net(tensor(grid[test][0].astype(np.float32)))[
                0, :, : atlas.shape[0], : atlas.shape[1], : atlas.shape[2]
            ]
        on_grid = ids[logits.argmax(0).cpu().numpy()].astype(np.int32)
        _, _, transform, vol = grid[test]
        native = labels_to_native(on_grid, atlas.affine, transform, vol)
        pred = pred_dir / f"{test}_labels.mgz"
        save_like(native, vol, pred, dtype=np.int16)
        seg_seconds = time.perf_counter() - t0
        ev = bench.evaluate(pred, [test], pred_dir / "scores" / test)
        part = {"dice": ev, "train_seconds": train_seconds, "seg_seconds": seg_seconds}
        bench.save_part("unet", test, part)
    parts = [bench.parts("unet")[t] for t in bench.test_names()]
    return {
        "dice": bench.merged_dice([q["dice"] for q in parts]),
        "seconds_per_subject": float(np.mean([q["seg_seconds"] for q in parts])),
        "train_seconds": float(np.sum([q["train_seconds"] for q in parts])),
        "steps": bench.p.unet_steps,
    }

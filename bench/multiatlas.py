"""Issue 32's rows: several atlases carried by ltnet and fused (``ltnet-mas-<k>``), and ANTs SyN's
warped atlases fused by ltnet's rule (``syn-fused-<k>``), both with the atlases of ``jlf-<k>``."""

from __future__ import annotations

import json
import time

import numpy as np

# ltnet segment's flags for the ltnet-mas rows: fusion on the working grid, as `ltnet segment`
# does by default with several atlases (measured in bench/RESULTS.md)
MAS_FLAGS: tuple[str, ...] = ()


class MultiAtlasRows:
    """Rows ``ltnet-mas-<k>`` and ``syn-fused-<k>``, for a :class:`bench.accuracy.Bench`."""

    def row_mas(self, k: int) -> dict:
        """``ltnet segment`` with the model of ladder-full-s0 (trained with the chosen atlas alone: no
        label of a test subject read in training) and, for each test subject, the k atlases of
        ``jlf-k`` (:meth:`atlases_for`: never the subject itself) given with ``--atlas``; one
        command per subject, the labels fused by the default rule."""
        names = self.test_names()
        run = self.base_run()
        pred = self.root / "seg" / f"ltnet-mas-{k}"
        import shutil

        shutil.rmtree(pred, ignore_errors=True)
        for n in names:
            atl = self.atlases_for(n, k)
            self.ltnet(
                "segment",
                "--model",
                str(run),
                "--atlas",
                *(str(self.images[m]) for m in atl),
                "--atlas-labels",
                *(str(self.labels[m]) for m in atl),
                *MAS_FLAGS,
                "--images",
                str(self.images[n]),
                "--out",
                str(pred),
                "--device",
                self.p.device,
                *self.common()[2:],
            )
        ev = self.evaluate(pred, names, pred / "scores")
        recs = {n: json.loads((pred / f"{n}_segment.json").read_text()) for n in names}
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(pred),  # RESULTS adds the affine row's preparation
            "train_seconds": self.rows_train("ladder-full-s0"),
            "atlases": k,
            "atlases_per_subject": {n: r["fusion"]["atlases"] for n, r in recs.items()},
            "segment_flags": list(MAS_FLAGS),
            "model": "ladder-full-s0",
        }

    def row_syn_fused(self, k: int) -> dict:
        """The SyN-warped atlases of ``jlf-k`` (the same registrations, on each subject's native grid)
        fused by ltnet's default rule on the native grid, cropped to the brain: how much of
        ``ltnet-mas-k`` against ``jlf-k`` is the fusion's, how much the registration's."""
        import torch

        from ltnet.atlas import label_one_hot
        from ltnet.fusion import argmax_labels, fuse_probabilities, fusion_weights
        from ltnet.io import load_image, load_labels, save_like
        from ltnet.prepare import normalize_intensity

        names = self.test_names()
        pred = self.root / f"syn-fused{k}-labels"
        pred.mkdir(exist_ok=True)
        secs = []
        for n in names:
            atl = self.atlases_for(n, k)
            regs = [self.syn_pair(m, n) for m in atl]
            fv = load_image(self.images[n])
            idx = np.argwhere(fv.data > 0)
            lo, hi = np.maximum(idx.min(0) - 3, 0), np.minimum(idx.max(0) + 4, fv.shape)
            sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            pairs = [self.root / "syn" / f"{m}_to_{n}" for m in atl]
            images = [load_image(p / "image.nii.gz").data[sl] for p in pairs]
            labels = [load_labels(p / "labels.nii.gz").data[sl] for p in pairs]
            t0 = time.perf_counter()
            with torch.inference_mode():
                warped = torch.stack([torch.from_numpy(normalize_intensity(im))[None] for im in images])
                target = torch.from_numpy(normalize_intensity(fv.data[sl]))[None, None]
                weights = fusion_weights(warped.float(), target.float())
                ids = sorted({int(i) for lab in labels for i in np.unique(lab)} | {0})
                probs = (label_one_hot(torch.from_numpy(lab.astype(np.int64)), ids) for lab in labels)
                out_ids, _ = argmax_labels(fuse_probabilities(probs, weights), ids)
            t_fuse = time.perf_counter() - t0
            full = np.zeros(fv.shape, np.int32)
            full[sl] = out_ids.numpy()
            save_like(full, fv, pred / f"{n}_labels.nii.gz", dtype=np.int16)
            secs.append(t_fuse + sum(r["register_seconds"] + r["warp_seconds"] for r in regs))
        ev = self.evaluate(pred, names, pred / "scores")
        return {
            "dice": ev,
            "seconds_per_subject": float(np.mean(secs)),
            "train_seconds": 0.0,
            "atlases": k,
            "fusion": "ltnet local (native grid)",
        }

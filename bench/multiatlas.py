"""Issue 32's rows: several atlases carried by ltnet and fused (``ltnet-mas-<k>``), and ANTs SyN's
warped atlases fused by ltnet's rule (``syn-fused-<k>``), both with the atlases of ``jlf-<k>``."""

from __future__ import annotations

import json
import time

import numpy as np

# ltnet segment's flags for the ltnet-mas rows: none, segment's defaults with several atlases
MAS_FLAGS: tuple[str, ...] = ()
FOLD_STEPS = 300  # fine-tuning steps of each fold's multi-atlas model, from ladder-full-s0


def fold_train_seconds(run) -> float:
    """A run's training seconds, the sum of its log's step times (a resumed, finished run adds none)."""
    from ltnet.runtime import read_log

    return float(sum(r["seconds"] for r in read_log(run)))


class MultiAtlasRows:
    """Rows ``ltnet-mas-<k>`` and ``syn-fused-<k>``, for a :class:`bench.accuracy.Bench`."""

    def row_mas(self, k: int, trained: bool = False) -> dict:
        """``ltnet segment`` with, for each test subject, the k atlases of ``jlf-k``
        (:meth:`atlases_for`: never the subject itself) given with ``--atlas``; one command per
        subject, the labels fused by the default rule.

        The model: ladder-full-s0's (trained with the chosen atlas alone: no label of a test
        subject read in training); with ``trained`` (``ltnet-mas-trained-k``), per fold of the
        test set (``inductive``'s two folds), a model fine-tuned from it for ``FOLD_STEPS`` steps
        with several atlases: the chosen one and the other fold's subjects, so the subjects it
        scores had only their images in training (the unlabelled pool)."""
        import shutil

        names = self.test_names()
        base = self.base_run()
        pred = self.root / "seg" / (f"ltnet-mas-trained-{k}" if trained else f"ltnet-mas-{k}")
        shutil.rmtree(pred, ignore_errors=True)
        folds = [names[::2], names[1::2]]
        model_of, train_s = dict.fromkeys(names, base), self.rows_train("ladder-full-s0")
        if trained:
            for i, fold in enumerate(folds):
                atl = [self.atlas(), *(n for n in names if n not in fold)]
                run = self.train_run(
                    f"mas-fold{i}", "full", 0, names, FOLD_STEPS, ("--init", str(base)), atlases=atl
                )
                train_s += fold_train_seconds(run)  # from its log: the same for every k sharing it
                model_of |= dict.fromkeys(fold, run)
        for n in names:
            atl = self.atlases_for(n, k)
            self.ltnet(
                "segment",
                "--model",
                str(model_of[n]),
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
            "train_seconds": train_s,
            "atlases": k,
            "atlases_per_subject": {n: r["fusion"]["atlases"] for n, r in recs.items()},
            "segment_flags": list(MAS_FLAGS),
            "model": {n: model_of[n].name for n in names},
            **({"fold_steps": FOLD_STEPS, "folds": folds} if trained else {}),
        }

    def row_syn_fused(self, k: int) -> dict:
        """The SyN-warped atlases of ``jlf-k`` (the same registrations, on each subject's native grid)
        fused by ltnet's default rule on the native grid, cropped to the brain: how much of
        ``ltnet-mas-k`` against ``jlf-k`` is the fusion's, how much the registration's."""
        import torch

        from bench.baselines import brain_box
        from ltnet.atlas import label_one_hot
        from ltnet.fusion import argmax_labels, fuse_probabilities, fusion_weights
        from ltnet.io import load_image, load_labels
        from ltnet.prepare import normalize_intensity

        names = self.test_names()
        pred = self.root / f"syn-fused{k}-labels"
        pred.mkdir(exist_ok=True)
        secs = []
        for n in names:
            atl = self.atlases_for(n, k)
            regs = [self.syn_pair(m, n) for m in atl]
            fv = load_image(self.images[n])
            sl, _ = brain_box(fv.data)
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
            secs.append(self.save_fused(out_ids.numpy(), sl, fv, pred / f"{n}_labels.nii.gz", t_fuse, regs))
        return self.fused_row(pred, names, secs, k, fusion="ltnet local (native grid)")

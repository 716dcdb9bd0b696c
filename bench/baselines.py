"""The benchmark's classical anchors: ANTs SyN from the atlas and ANTs joint label fusion of
several SyN-warped atlases. Each (moving, fixed) SyN registration is computed once and shared."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nibabel as nib
import numpy as np


class AntsBaselines:
    """Rows ``syn`` and ``jlf-<k>``, for a :class:`bench.accuracy.Bench` (its subjects, profile,
    output folder and ``evaluate``)."""

    def syn_folder(self, spacing: float) -> str:
        """Where SyN at ``spacing`` keeps its pairs: ``syn`` at the profile's ``syn_spacing`` (shared
        with the JLF rows), ``syn-<spacing>mm`` otherwise."""
        return "syn" if spacing == self.p.syn_spacing else f"syn-{spacing:g}mm"

    def syn_pair(self, moving: str, fixed: str, spacing: float | None = None) -> dict:
        """SyN (its affine stage included) of ``moving`` to ``fixed`` at ``spacing`` mm (default: the
        profile's ``syn_spacing``), labels warped by ``genericLabel``; cached under the output folder."""
        spacing = spacing or self.p.syn_spacing
        out = self.root / self.syn_folder(spacing) / f"{moving}_to_{fixed}"
        done = out / "done.json"
        if done.exists():
            return json.loads(done.read_text())
        import ants

        from ltnet.io import load_image, load_labels, save_like
        from ltnet.registration import to_ants

        out.mkdir(parents=True, exist_ok=True)
        fv, mv, ml = (
            load_image(self.images[fixed]),
            load_image(self.images[moving]),
            load_labels(self.labels[moving]),
        )
        f_ants, m_ants = to_ants(fv.data, fv.affine), to_ants(mv.data, mv.affine)
        sp = (spacing,) * 3
        t0 = time.perf_counter()
        reg = ants.registration(
            fixed=ants.resample_image(f_ants, sp, use_voxels=False, interp_type=0),
            moving=ants.resample_image(m_ants, sp, use_voxels=False, interp_type=0),
            type_of_transform="SyN",
            outprefix=str(out / "x"),
        )
        t_reg = time.perf_counter() - t0
        t0 = time.perf_counter()
        lab = ants.apply_transforms(
            f_ants,
            to_ants(ml.data.astype(np.float32), ml.affine),
            reg["fwdtransforms"],
            interpolator="genericLabel",
        )
        t_warp = time.perf_counter() - t0
        img = ants.apply_transforms(f_ants, m_ants, reg["fwdtransforms"], interpolator="linear")
        save_like(np.rint(lab.numpy()).astype(np.int32), fv, out / "labels.nii.gz", dtype=np.int16)
        save_like(img.numpy().astype(np.float32), fv, out / "image.nii.gz", dtype=np.float32)
        rec = {"register_seconds": t_reg, "warp_seconds": t_warp}
        done.write_text(json.dumps(rec) + "\n")
        return rec

    def row_syn(self, spacing: float | None = None) -> dict:
        """``syn`` (the profile's ``syn_spacing``) or ``syn-1mm`` (``spacing`` 1: the scans' native
        grid): single-atlas SyN from the atlas to each test subject."""
        a, names = self.atlas(), self.test_names()
        spacing = spacing or self.p.syn_spacing
        folder = self.syn_folder(spacing)
        pred = self.root / f"{folder}-labels"
        pred.mkdir(exist_ok=True)
        secs = []
        for n in names:
            rec = self.syn_pair(a, n, spacing)
            secs.append(rec["register_seconds"] + rec["warp_seconds"])
            shutil.copy(self.root / folder / f"{a}_to_{n}" / "labels.nii.gz", pred / f"{n}_labels.nii.gz")
        ev = self.evaluate(pred, names, pred / "scores")
        return {
            "dice": ev,
            "seconds_per_subject": float(np.mean(secs)),
            "train_seconds": 0.0,
            "syn_spacing": spacing,
        }

    def atlases_for(self, target: str, k: int) -> list[str]:
        """k atlases for a target: the chosen atlas first, then the others in name order."""
        a = self.atlas()
        others = [n for n in self.images if n not in (a, target)]
        return [a, *others][:k]

    def row_jlf(self, k: int) -> dict:
        """ANTs joint label fusion of k SyN-warped atlases, fused on the SyN grid (the profile's
        ``syn_spacing``; at 1 mm one fusion took over 4 minutes here), its label posteriors
        interpolated linearly onto the subject's native grid and the most probable label kept."""
        import ants

        from ltnet.io import load_image
        from ltnet.registration import to_ants

        names = self.test_names()
        pred = self.root / f"jlf{k}-labels"
        pred.mkdir(exist_ok=True)
        secs = []
        sp = (self.p.syn_spacing,) * 3
        for n in names:
            atl = self.atlases_for(n, k)
            regs = [self.syn_pair(m, n) for m in atl]
            fv = load_image(self.images[n])
            sl, lo = brain_box(fv.data)
            aff = fv.affine.copy()
            aff[:3, 3] = fv.affine[:3, :3] @ lo + fv.affine[:3, 3]

            def crop(p: Path, interp: int, sl=sl, aff=aff):
                img = to_ants(np.asarray(nib.load(p).dataobj)[sl].astype(np.float32), aff)
                return ants.resample_image(img, sp, use_voxels=False, interp_type=interp)

            t0 = time.perf_counter()
            native = to_ants(fv.data[sl].astype(np.float32), aff)
            target = ants.resample_image(native, sp, use_voxels=False, interp_type=0)
            fused = ants.joint_label_fusion(
                target,
                ants.threshold_image(target, 1e-6, None),
                atlas_list=[crop(self.root / "syn" / f"{m}_to_{n}" / "image.nii.gz", 0) for m in atl],
                label_list=[crop(self.root / "syn" / f"{m}_to_{n}" / "labels.nii.gz", 1) for m in atl],
                beta=2,
                rad=2,
            )
            probs = np.stack(
                [
                    ants.resample_image_to_target(pi, native, interp_type="linear").numpy()
                    for pi in fused["probabilityimages"]
                ]
            )
            ids = np.asarray(fused["segmentation_numbers"], np.int32)
            if 0 not in ids:  # background's posterior is what the labels leave
                probs = np.concatenate([np.clip(1 - probs.sum(0), 0, None)[None], probs])
                ids = np.concatenate([[0], ids]).astype(np.int32)
            crop_lab = ids[probs.argmax(0)]
            t_jlf = time.perf_counter() - t0
            secs.append(self.save_fused(crop_lab, sl, fv, pred / f"{n}_labels.nii.gz", t_jlf, regs))
        return self.fused_row(pred, names, secs, k, fusion_spacing=self.p.syn_spacing)

    def save_fused(
        self, crop_labels: np.ndarray, sl: tuple, fv, path: Path, t_fuse: float, regs: list
    ) -> float:
        """Write labels fused on the brain box ``sl`` of a subject's native grid (``fv``); the
        subject's seconds: the fusion's and its SyN registrations' and warps'."""
        from ltnet.io import save_like

        full = np.zeros(fv.shape, np.int32)
        full[sl] = crop_labels
        save_like(full, fv, path, dtype=np.int16)
        return t_fuse + sum(r["register_seconds"] + r["warp_seconds"] for r in regs)

    def fused_row(self, pred: Path, names: list[str], secs: list[float], k: int, **extra) -> dict:
        return {
            "dice": self.evaluate(pred, names, pred / "scores"),
            "seconds_per_subject": float(np.mean(secs)),
            "train_seconds": 0.0,
            "atlases": k,
            **extra,
        }


def brain_box(data: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
    """The box around a skull-stripped scan's signal, 3 voxels to spare: (slices, lower corner)."""
    idx = np.argwhere(data > 0)
    lo, hi = np.maximum(idx.min(0) - 3, 0), np.minimum(idx.max(0) + 4, data.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True)), lo

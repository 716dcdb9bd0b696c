"""The paper's tables 2-5 on the real brains of ../shared/data, with classical anchors beside them.

    python -m bench.accuracy --profile cpu            # 2 mm working grid, hours on 2 cores
    python -m bench.accuracy --profile paper          # 1 mm, the paper's settings, for a GPU
    python -m bench.accuracy --profile cpu --only affine syn jlf   # some rows
    python -m bench.accuracy --profile cpu --report   # RESULTS.md from the rows done so far

Subjects: the six FreeSurfer subjects and bert (skull-stripped images, FreeSurfer aseg). The atlas
is chosen by ``ltnet select-atlas`` among the seven; the six others are the test set, scored by
``ltnet evaluate`` in each subject's native space on the SPEC's 28 structures. Every learned row is
one ``ltnet train`` and one ``ltnet segment`` command run as a subprocess: the figures measure the
product. Labels of the unlabelled pool are never read for training.

Every row writes ``bench/results/<profile>/rows/<row>.json``, a small file kept in git, and is
skipped when that file exists, so the benchmark resumes across sessions and fresh clones; the heavy
outputs (checkpoints, label maps, the prepared-scan cache) stay in the ignored
``bench/out/accuracy/<profile>/``. ``bench/RESULTS.md`` (and ``RESULTS.json``) are rewritten from
the rows present after every row, with the missing rows listed. Each scan's preparation (its ANTs
affine to the atlas) is pinned in ``bench/results/prep-<spacing>mm.json`` and the cache is rebuilt
from it, so rows run in different sessions are compared on the same prepared scans.

Rows: ``affine``; the ablation ladder (``ladder-<variant>-s<seed>``, pool = all seven images,
transductive, two seeds); ``inductive-s0`` (full LT-Net, two folds: each test subject segmented by
a model whose pool excludes it); ``curve`` (held-in Dice of the full model against steps, by
resuming one run); ``syn`` (ANTs SyN from the atlas, labels by ``genericLabel``); ``jlf-<k>``
(ANTs joint label fusion of k = 2..5 SyN-warped atlases, never the test subject); ``unet``
(supervised MONAI U-Net, leave-one-out over the labelled subjects, at the working spacing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.baselines import AntsBaselines
from bench.candidates import CANDIDATES, candidate_rows, parse_candidate
from bench.multiatlas import MultiAtlasRows
from bench.store import RowStore

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))
# segment's flags for the network's field alone, transferred from the working grid: the learned
# rows measured the network this way before segment adapted and refined by default
NETWORK_ONLY = ("--fast", "--refine-spacing", "off")
LADDER = ("voxelmorph", "gan", "cycle", "trans", "anat", "trans-anat", "full")


@dataclass(frozen=True)
class Profile:
    spacing: float
    steps: int
    seeds: tuple[int, ...]
    device: str
    half_res: bool
    curve: tuple[int, ...]  # steps at which the learning curve is scored
    unet_steps: int
    syn_spacing: float


PROFILES = {
    "cpu": Profile(2.0, 1500, (0, 1), "cpu", True, (100, 250, 500, 1000, 1500, 2500), 1000, 2.0),
    "paper": Profile(1.0, 20000, (0, 1), "cuda", False, (1000, 2500, 5000, 10000, 20000), 5000, 1.0),
    # the cpu profile's settings trained on a lent GPU (bench/gpu_rows.sh): the same rows in minutes
    "cpu-cuda": Profile(2.0, 1500, (0, 1), "cuda", True, (100, 250, 500, 1000, 1500, 2500), 1000, 2.0),
}


def subjects() -> dict[str, tuple[Path, Path]]:
    """name -> (skull-stripped image, aseg), native .mgz files."""
    out = {
        f"sub-0{i}": (
            DATA / "brains" / f"sub-0{i}" / "brainmask.mgz",
            DATA / "brains" / f"sub-0{i}" / "aseg.mgz",
        )
        for i in range(1, 7)
    }
    out["bert"] = (DATA / "brains" / "bert" / "brain.mgz", DATA / "brains" / "bert" / "aseg.mgz")
    missing = [str(p) for pair in out.values() for p in pair if not p.exists()]
    if missing:
        sys.exit(f"real data not found ({missing[0]}); set LTNET_DATA to the data folder")
    return out


class Bench(RowStore, AntsBaselines, MultiAtlasRows):
    """The accuracy benchmark of one profile: its subjects, the ``ltnet`` runner, the prepared-scan
    pins and the learned rows; row storage (:class:`RowStore`) and the ANTs rows
    (:class:`AntsBaselines`) live in their own modules."""

    def __init__(self, profile: str, root: Path, store: Path | None = None):
        """``root``: the ignored folder for heavy outputs; ``store`` (default
        ``bench/results/<profile>``, kept in git): the row records and diagnostics' figures."""
        self.name = profile
        self.p = PROFILES[profile]
        self.root = root / profile
        self.store = store or REPO / "bench" / "results" / profile
        self.rows = self.store / "rows"
        self.rows.mkdir(parents=True, exist_ok=True)
        self.cache = root / "cache"  # prepared scans, shared by every row and profile
        # file names carry the subject (ltnet names outputs by the file's stem)
        self.data = self.root / "data"
        (self.data / "images").mkdir(parents=True, exist_ok=True)
        (self.data / "labels").mkdir(parents=True, exist_ok=True)
        self.images, self.labels = {}, {}
        self._pinned, self.prep_id = False, None
        # rows named paper-<row> train with --recipe paper, into runs/paper-<tag> (see run_row)
        self.prefix, self.recipe = "", ("--recipe", "ltnet")
        for name, (img, lab) in subjects().items():
            for d, src, store in (("images", img, self.images), ("labels", lab, self.labels)):
                link = self.data / d / f"{name}.mgz"
                if not link.exists():
                    link.symlink_to(src)
                store[name] = link

    # -- helpers -------------------------------------------------------------------------------
    def ltnet(self, *args: str, log: Path | None = None) -> float:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "ltnet", *args], capture_output=True, text=True)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(r.stdout[-20000:] + "\n--- stderr ---\n" + r.stderr[-20000:])
        if r.returncode != 0:
            raise RuntimeError(f"ltnet {' '.join(args[:1])} failed:\n{r.stderr[-3000:]}")
        return time.perf_counter() - t0

    def atlas(self) -> str:
        f = self.rows / "atlas.json"
        if not f.exists():
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ltnet",
                    "select-atlas",
                    *map(str, self.images.values()),
                    "--cache",
                    str(self.cache),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            best = Path(r.stdout.strip().splitlines()[-1]).stem
            f.write_text(
                json.dumps({"atlas": best, "scores": r.stderr.strip().splitlines()[-7:]}, indent=2) + "\n"
            )
        return json.loads(f.read_text())["atlas"]

    def test_names(self) -> list[str]:
        a = self.atlas()
        return [n for n in self.images if n != a]

    def evaluate(self, pred: Path, names: list[str], out: Path) -> dict:
        self.ltnet(
            "evaluate",
            "--pred",
            str(pred),
            "--truth",
            *(str(self.labels[n]) for n in names),
            "--out",
            str(out),
        )
        return json.loads((out / "dice.json").read_text())

    def seg_seconds(self, pred: Path) -> float:
        recs = [json.loads(p.read_text()) for p in pred.glob("*_segment.json")]
        return float(np.mean([r["seconds"] for r in recs])) if recs else float("nan")

    def common(self) -> list[str]:
        self.pin_preparation()
        return ["--spacing", str(self.p.spacing), "--cache", str(self.cache), "--quiet"]

    def pin_preparation(self) -> None:
        """Every scan's preparation (ANTs affine to the atlas) done once for good: the transforms are
        kept in git (``bench/results/prep-<spacing>mm.json``, shared by the profiles of one spacing)
        and put into the ignored cache before any row uses it. ANTs' affine differs from run to run
        even with a fixed seed, which moves a row by more than the ladder's gaps; pinned, rows
        measured in other sessions and clones are compared on one preparation."""
        if self._pinned:
            return
        from ltnet.atlas import load_atlas
        from ltnet.cache import PrepCache
        from ltnet.config import PrepConfig
        from ltnet.io import atomic_write_text, load_image
        from ltnet.prepare import prepare_scan

        f = self.store.parent / f"prep-{self.p.spacing:g}mm.json"
        a = self.atlas()
        pins = json.loads(f.read_text()) if f.exists() else {"atlas": a, "transforms": {}}
        if pins["atlas"] != a:
            raise SystemExit(f"{f}: pinned for the atlas {pins['atlas']}, not {a}; move it aside to re-pin")
        atlas = load_atlas(self.images[a], self.labels[a], PrepConfig(spacing=self.p.spacing))
        cache = PrepCache(self.cache)
        new = False
        for n, path in self.images.items():
            t = pins["transforms"].get(n)
            prep = prepare_scan(
                load_image(path), atlas.image, atlas.labels, atlas.affine, cache=cache, transform=t
            )
            new |= t is None
            pins["transforms"][n] = prep.transform.tolist()
        if new:
            atomic_write_text(f, json.dumps(pins, indent=2) + "\n")
        text = json.dumps(pins["transforms"], sort_keys=True).encode()
        self.prep_id = f"{f.name}:{hashlib.sha256(text).hexdigest()[:12]}"  # recorded in each row
        self._pinned = True

    # -- rows ----------------------------------------------------------------------------------
    def row_affine(self) -> dict:
        a, names = self.atlas(), self.test_names()
        out = self.root / "affine"
        shutil.rmtree(out, ignore_errors=True)
        args = [
            "segment",
            "--affine-only",
            "--atlas",
            str(self.images[a]),
            "--atlas-labels",
            str(self.labels[a]),
        ]
        args += ["--images", *(str(self.images[n]) for n in names)]
        # timed on a cold cache of its own, so that the wall time includes preparation (ANTs affine);
        # scored on the pinned preparation that every other row uses
        cold = self.root / "cold-cache"
        shutil.rmtree(cold, ignore_errors=True)
        cold_out = out / "cold-labels"
        wall = self.ltnet(
            *args, "--out", str(cold_out), "--spacing", str(self.p.spacing), "--cache", str(cold), "--quiet"
        )
        shutil.rmtree(cold, ignore_errors=True)
        cold_transfer = self.seg_seconds(cold_out)
        self.ltnet(*args, "--out", str(out / "labels"), *self.common())
        ev = self.evaluate(out / "labels", names, out / "scores")
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(out / "labels"),
            "prep_seconds_per_subject": wall / len(names) - cold_transfer,
            "train_seconds": 0.0,
        }

    def segment_and_score(
        self, tag: str, command: list[str], test: list[str] | None = None
    ) -> tuple[Path, dict]:
        """Run one segmenting command (``command`` up to its options) on ``test`` (default: the test
        set) into seg/<tag>, score it with ``ltnet evaluate``; (folder, dice.json)."""
        test = test or self.test_names()
        seg = self.root / "seg" / tag
        shutil.rmtree(seg, ignore_errors=True)
        images = [str(self.images[n]) for n in test]
        self.ltnet(
            *command, "--images", *images, "--out", str(seg), "--device", self.p.device, *self.common()[2:]
        )
        return seg, self.evaluate(seg, test, seg / "scores")

    def train_run(
        self,
        tag: str,
        variant: str,
        seed: int,
        pool: list[str],
        steps: int,
        extra: tuple = (),
        atlases: list[str] | None = None,
    ) -> Path:
        """``ltnet train`` of one row into runs/<tag> (resumed, or extended, if it exists), with the
        chosen atlas (or ``atlases``, the first fixing the grid)."""
        atlases = atlases or [self.atlas()]
        tag = self.prefix + tag
        run = self.root / "runs" / tag
        args = [
            "train",
            "--atlas",
            *(str(self.images[a]) for a in atlases),
            "--atlas-labels",
            *(str(self.labels[a]) for a in atlases),
            "--variant",
            variant,
        ]
        args += ["--images", *(str(self.images[n]) for n in pool), "--out", str(run), "--steps", str(steps)]
        args += [
            "--seed",
            str(seed),
            "--device",
            self.p.device,
            "--checkpoint-every",
            "50",
            *self.recipe,
            *extra,
        ]
        args += ["--half-res"] if self.p.half_res else []
        args += ["--resume"] if (run / "checkpoint.pt").exists() else []
        self.ltnet(*args, *self.common(), log=run / "train.log")
        return run

    def train_and_segment(
        self,
        tag: str,
        variant: str,
        seed: int,
        pool: list[str],
        test: list[str],
        steps: int,
        extra: tuple = (),
    ) -> dict:
        run = self.train_run(tag, variant, seed, pool, steps, extra)
        log = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]
        seg, ev = self.segment_and_score(
            f"{self.prefix}{tag}-{steps}",
            ["segment", "--model", str(run), "--save-warped", *self.inference(variant)],
            test,
        )
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(seg),
            "train_seconds": float(sum(r["seconds"] for r in log)),
            "seconds_per_step": float(np.median([r["seconds"] for r in log])),
            # the losses at the end of training, and on the way, kept with the row (the run is not)
            "last_100_steps_median": loss_medians(log[-100:]),
            # the weights scored are the last step's: a run that ends in an excursion shows here
            "last_10_steps_median": loss_medians(log[-10:]),
            "loss_trajectory": loss_trajectory(log),
            "steps": steps,
            "variant": variant,
            "seed": seed,
            "pool": pool,
            "recipe": self.recipe[1],
        }

    def row_ladder(self, variant: str, seed: int) -> dict:
        # transductive: the six test images, labels never read; ltnet train leaves the atlas out of
        # the pool in any case (the paper-ladder rows measured before 2026-12-03 had it in)
        pool = self.test_names()
        return self.train_and_segment(
            f"ladder-{variant}-s{seed}", variant, seed, pool, self.test_names(), self.p.steps
        )

    def row_candidate(self, prefix: str, variant: str, seed: int) -> dict:
        """``<prefix>ladder-<variant>-s{seed}``: ladder-<variant>-s{seed} trained with one
        candidate's flags added (``bench.candidates``), on the same pool, steps and seed."""
        flags = CANDIDATES[prefix].flags
        pool, tag = self.test_names(), f"{prefix}ladder-{variant}-s{seed}"
        r = self.train_and_segment(tag, variant, seed, pool, pool, self.p.steps, extra=flags)
        return {**r, "candidate_flags": list(flags)}

    def inference(self, variant: str, network: bool = True) -> list[str]:
        """The segment flags of the learned rows, which measure the network as they did before
        segment optimised fields by default: labels from the working grid (``--refine-spacing
        off``), and with ``network`` no adaptation (``--fast``); and the recipe's directions: the
        paper segments with G_F's field alone (``--forward-only``), ltnet's default uses both
        directions where there is a G_B."""
        from ltnet.config import get_variant

        paper = self.prefix == "paper-" and get_variant(variant).backward
        flags = list(NETWORK_ONLY) if network else ["--refine-spacing", "off"]
        return [*flags, *(["--forward-only"] if paper else [])]

    def row_segment_default(self, fast: bool) -> dict:
        """Issue 31: ``default`` is ``ltnet segment --model`` with no extra flag on ladder-full-s0's
        model (its atlas files given, because that model predates checkpoints that keep the atlas at
        full resolution); ``fast`` adds ``--fast``."""
        a = self.atlas()
        command = ["segment", "--model", str(self.base_run())]
        command += ["--atlas", str(self.images[a]), "--atlas-labels", str(self.labels[a])]
        command += ["--fast"] if fast else []
        seg, ev = self.segment_and_score("fast" if fast else "default", command)
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(seg),  # RESULTS adds the affine row's preparation
            "train_seconds": self.rows_train("ladder-full-s0"),
            "segment_flags": command[3:],
        }

    def row_forward(self, inner: str) -> dict:
        """``forward-<row>``: the learned row's model segmenting with ``--forward-only`` (G_F's field
        alone, as the paper segments), beside the row's default (both directions)."""
        run = self.root / "runs" / f"{self.prefix}{inner}"
        if not (self.rows / f"{self.prefix}{inner}.json").exists() or not (run / "checkpoint.pt").exists():
            raise RuntimeError(f"needs the row {self.prefix}{inner} and its model in this checkout first")
        command = ["segment", "--model", str(run), "--forward-only", *NETWORK_ONLY]
        seg, ev = self.segment_and_score(f"{self.prefix}forward-{inner}", command)
        return {"dice": ev, "seconds_per_subject": self.seg_seconds(seg), "train_seconds": 0.0, "of": inner}

    def row_inductive(self, seed: int) -> dict:
        test = self.test_names()
        folds = [test[::2], test[1::2]]
        row = f"{self.prefix}inductive-s{seed}"
        for k, fold in enumerate(folds):
            if f"fold{k}" in self.parts(row):
                continue
            pool = [n for n in self.images if n not in fold]
            r = self.train_and_segment(f"inductive-s{seed}-fold{k}", "full", seed, pool, fold, self.p.steps)
            self.save_part(row, f"fold{k}", r)
        parts = [self.parts(row)[f"fold{k}"] for k in range(len(folds))]
        return {
            "dice": self.merged_dice([p["dice"] for p in parts]),
            "seconds_per_subject": float(np.mean([p["seconds_per_subject"] for p in parts])),
            "train_seconds": float(sum(p["train_seconds"] for p in parts)),
            "folds": [p["pool"] for p in parts],
            "steps": self.p.steps,
            "seed": seed,
        }

    def row_curve(self) -> dict:
        """The full model's held-in Dice after each of ``curve`` steps: one run, extended and
        scored at every point. Points recovered from a committed RESULTS (summaries only) are
        measured again on the way, since the run passes through them anyway; until then the
        report shows them, marked."""
        f = self.rows / f"{self.prefix}curve.partial.json"
        record = json.loads(f.read_text()) if f.exists() else {}
        source = record.get("recovered_from")
        old = record.get("points", [])
        # a measured point carries its `finished` stamp; a recovered one does not
        measured = [p for p in old if not source or "finished" in p]
        for steps in self.p.curve:
            if steps in {p["steps"] for p in measured}:
                continue
            r = self.train_and_segment(
                "curve-full-s0", "full", 0, list(self.images), self.test_names(), steps
            )
            ladder_run = self.root / "runs" / f"{self.prefix}ladder-full-s0"
            if steps == self.p.steps and not ladder_run.exists():
                # the same run as the ladder's full row (same seed, data order and steps): reuse it
                shutil.copytree(self.root / "runs" / f"{self.prefix}curve-full-s0", ladder_run)
            measured.append(
                {
                    "steps": steps,
                    "mean": r["dice"]["summary"]["mean"],
                    "std": r["dice"]["summary"]["std"],
                    "train_seconds": r["train_seconds"],
                    "seconds_per_step": r["seconds_per_step"],
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
            pending = [p for p in old if p["steps"] not in {q["steps"] for q in measured}]
            partial = {"points": sorted(measured + pending, key=lambda q: q["steps"])}
            if source and pending:
                partial["recovered_from"] = source
            self.write_row(f"{self.prefix}curve.partial", partial)
            write_results(self)
        return {"points": measured}

    # -- issue 8: adaptation, diffeomorphic variant, QC; issue 7: DataAug --------------------------
    def base_run(self) -> Path:
        base = f"{self.prefix}ladder-full-s0"
        run = self.root / "runs" / base
        if not (self.rows / f"{base}.json").exists():
            raise RuntimeError(f"needs the row {base} first")
        if not (run / "checkpoint.pt").exists():
            # row records are kept in git, trained models are not
            raise RuntimeError(
                f"{run}: the model of ladder-full-s0 is not in this checkout; run that row again "
                "(--rerun-recovered, or remove its record) before the rows built on it"
            )
        return run

    def row_adapt(self, mode: str, steps: int, lr: str | None = None) -> dict:
        """``adapt-<mode>-<steps>[-lr<lr>]``: ladder-full-s0 segmented with test-time adaptation."""
        command = ["segment", "--model", str(self.base_run()), "--adapt-steps", str(steps), "--adapt", mode]
        command += self.inference("full", network=False)
        command += ["--adapt-lr", lr] if lr else []
        tag = f"{self.prefix}adapt-{mode}-{steps}" + (f"-lr{lr}" if lr else "")
        seg, ev = self.segment_and_score(tag, command)
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(seg),
            "train_seconds": self.rows_train(f"{self.prefix}ladder-full-s0"),
            "adapt": [mode, steps, float(lr) if lr else None],
        }

    def rows_train(self, row: str) -> float:
        return json.loads((self.rows / f"{row}.json").read_text()).get("train_seconds", float("nan"))

    def row_diffeo(self, variant: str, seed: int) -> dict:
        """The ladder row ``ladder-{variant}-s{seed}`` with a stationary velocity field integrated
        in 7 scaling-and-squaring steps; ``diffeo-s{seed}`` is the full model."""
        tag = f"diffeo-s{seed}" if variant == "full" else f"diffeo-{variant}-s{seed}"
        r = self.train_and_segment(
            tag, variant, seed, list(self.images), self.test_names(), self.p.steps,
            extra=("--integration-steps", "7"),
        )  # fmt: skip
        return {**r, "integration_steps": 7}

    def row_qc(self) -> dict:
        """How well the cycle-consistency QC score ranks the real Dice: Spearman's rho over the pooled
        (subject x structure) pairs, with a 95 % bootstrap interval (pairs resampled 2000 times)."""
        from scipy.stats import spearmanr

        test = self.test_names()
        seg, ev = self.segment_and_score(
            f"{self.prefix}qc",
            ["segment", "--model", str(self.base_run()), "--save-qc", *self.inference("full")],
            test,
        )
        pairs = []
        for n in test:
            sub = ev["subjects"][n]
            for lab, d in sub["dice"].items():
                q = sub.get("qc", {}).get("per_structure_mm", {}).get(lab)
                if d is not None and q is not None:
                    pairs.append((q, d))
        arr = np.array(pairs)
        rho = float(spearmanr(arr[:, 0], arr[:, 1]).statistic)
        rng = np.random.default_rng(0)
        boot = [spearmanr(*arr[rng.integers(len(arr), size=len(arr))].T).statistic for _ in range(2000)]
        subj = [(ev["subjects"][n]["qc"]["mean_mm"], ev["subjects"][n]["mean"]) for n in test]
        return {
            "dice": ev,
            "spearman_rho": rho,
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "pairs": len(pairs),
            "subject_level": subj,
            "seconds_per_subject": self.seg_seconds(seg),
        }

    def row_dataaug(self) -> dict:
        """DataAug with the same wall-clock training budget as the full LT-Net row: the spatial and
        appearance models take half the LT-Net steps each, and the segmenter trains until the
        budget is spent (``dataaug train --time-budget``)."""
        a = self.atlas()
        budget = self.rows_train(f"ladder-full-s{self.p.seeds[0]}")
        spatial = self.p.steps // 2
        run = self.root / "runs" / "dataaug"
        shutil.rmtree(run, ignore_errors=True)
        cmd = ["dataaug", "train", "--atlas", str(self.images[a]), "--atlas-labels", str(self.labels[a])]
        cmd += ["--images", *map(str, self.images.values()), "--device", self.p.device, *self.common()]
        cmd += ["--spatial-steps", str(spatial), "--appearance-steps", str(spatial)]
        cmd += ["--seg-steps", "1000000", "--time-budget", f"{budget:.0f}"]
        cmd += ["--half-res"] if self.p.half_res else []
        self.ltnet(*cmd, "--out", str(run), log=run / "train.log")
        done = json.loads((run / "config.json").read_text())
        seg, ev = self.segment_and_score("dataaug", ["dataaug", "segment", "--model", str(run)])
        return {
            "dice": ev,
            "seconds_per_subject": self.seg_seconds(seg),
            "train_seconds": float(sum(done["seconds"].values())),
            "stage_seconds": done["seconds"],
            "appearance_residual": done.get("appearance_residual"),
            "steps": {"spatial": spatial, "appearance": spatial, "segmenter": done["seg_steps_run"]},
            "budget_seconds": budget,
        }

    def row_unet(self) -> dict:
        from bench.unet_baseline import leave_one_out

        return leave_one_out(self)


def loss_medians(records: list[dict]) -> dict[str, float]:
    """Each loss's median over some of a run's log records: the keys every record has (the gradient
    diagnostics, logged every ``--diag-every`` steps, are ``ltnet report``'s to plot)."""
    keys = [k for k in records[-1] if k not in ("step", "seconds") and all(k in r for r in records)]
    return {k: float(np.median([r[k] for r in records])) for k in keys}


def loss_trajectory(log: list[dict], windows: int = 6) -> list[dict]:
    """Each loss's median over ``windows`` equal stretches of a run's log: whether a row had
    stopped moving when its budget ran out. One dict per stretch, with its last step."""
    stretches = [log[c[0] : c[-1] + 1] for c in np.array_split(np.arange(len(log)), windows) if len(c)]
    return [{"to_step": int(part[-1]["step"]), **loss_medians(part)} for part in stretches]


def row_names(bench: Bench) -> list[str]:
    """Every row, in the order they run: cheap anchors first, then the ladder's VoxelMorph and full
    rows (ltnet's recipe), the rows built on the full model, the rest of the ladder, and last the
    same learned rows with the paper's recipe (``paper-<row>``)."""
    names = ["affine", "syn", "syn-1mm", *[f"jlf-{k}" for k in (2, 3, 4, 5)]]
    names += [f"syn-fused-{k}" for k in (2, 3, 4, 5)]  # issue 32: JLF's registrations, ltnet's fusion
    learned = [f"ladder-{v}-s{s}" for s in bench.p.seeds for v in ("voxelmorph", "full")]
    learned += [f"forward-ladder-full-s{s}" for s in bench.p.seeds]  # the paper's inference
    learned += candidate_rows(bench.p.seeds)  # issue 30's candidates
    learned += [
        f"forward-{p}ladder-full-s{s}"
        for p, c in CANDIDATES.items()
        if "full" in c.variants
        for s in bench.p.seeds
    ]
    learned += ["default", "fast"]  # issue 31: segment's default (refined at 1 mm) and --fast
    learned += [f"ltnet-mas-{k}" for k in (2, 3, 4, 5)]  # issue 32: several atlases, fused
    # the same, with models trained on several atlases per fold
    learned += [f"ltnet-mas-trained-{k}" for k in (5, 2, 3, 4)]
    learned += ["qc", *[f"adapt-field-{n}" for n in (25, 50, 100, 200)]]
    learned += [f"adapt-weights-{n}" for n in (25, 50)] + ["adapt-weights-25-lr0.001"]
    learned += [f"diffeo-voxelmorph-s{bench.p.seeds[0]}"]  # a model with a real field to integrate
    # the ladder's middle rows differ from the full model only in terms that ltnet's default weighs 0
    # (L_GAN, the cycle family): they are run with the paper's recipe alone
    middle = [f"ladder-{v}-s{s}" for s in bench.p.seeds for v in LADDER if v not in ("voxelmorph", "full")]
    # diffeo-s0's G_F alone: with the cycle family at 0 it trains as diffeo-voxelmorph-s0's network
    learned += ["diffeo-s0", "forward-diffeo-s0", "inductive-s0", "curve"]
    # the rows with a paper-recipe twin (the paper's inference is forward-only: no forward- twin)
    paper = [f"paper-{n}" for n in [*learned, *middle] if n.startswith(RECIPE_ROWS)]
    return [*names, *learned, "dataaug", "unet", *paper]


# the rows that train LT-Net or build on its model: each also exists as paper-<row>, the paper's recipe
RECIPE_ROWS = ("ladder-", "curve", "qc", "adapt-", "diffeo-", "inductive-")


def run_row(bench: Bench, row: str) -> dict:
    """Measure one row. ``paper-<row>``: the same row trained with ``--recipe paper`` (runs, labels
    and the model the row builds on all under ``paper-`` names)."""
    if row.startswith("paper-"):
        inner = row[len("paper-") :]
        if not inner.startswith(RECIPE_ROWS):
            raise SystemExit(f"unknown row {row}: only learned rows have a paper-recipe twin")
        bench.prefix, bench.recipe = "paper-", ("--recipe", "paper")
        try:
            return run_row(bench, inner)
        finally:
            bench.prefix, bench.recipe = "", ("--recipe", "ltnet")
    if row.startswith("forward-"):
        return bench.row_forward(row[len("forward-") :])
    if row == "affine":
        return bench.row_affine()
    if row == "syn":
        return bench.row_syn()
    if row == "syn-1mm":
        return bench.row_syn(1.0)
    if row.startswith("jlf-"):
        return bench.row_jlf(int(row.split("-")[1]))
    if row.startswith("syn-fused-"):
        return bench.row_syn_fused(int(row.rsplit("-", 1)[1]))
    if row.startswith("ltnet-mas-trained-"):
        return bench.row_mas(int(row.rsplit("-", 1)[1]), trained=True)
    if row.startswith("ltnet-mas-"):
        return bench.row_mas(int(row.rsplit("-", 1)[1]))
    if row == "curve":
        return bench.row_curve()
    if (candidate := parse_candidate(row)) is not None:
        return bench.row_candidate(*candidate)
    if row.startswith("ladder-"):
        variant, seed = row[len("ladder-") :].rsplit("-s", 1)
        return bench.row_ladder(variant, int(seed))
    if row.startswith("inductive-s"):
        return bench.row_inductive(int(row.rsplit("-s", 1)[1]))
    if row == "unet":
        return bench.row_unet()
    if row == "dataaug":
        return bench.row_dataaug()
    if row.startswith("diffeo-"):
        head, seed = row.rsplit("-s", 1)
        return bench.row_diffeo(head[len("diffeo-") :] or "full", int(seed))
    if row == "qc":
        return bench.row_qc()
    if row in ("default", "fast"):
        return bench.row_segment_default(row == "fast")
    if row.startswith("adapt-"):
        _, mode, steps, *lr = row.split("-")
        return bench.row_adapt(mode, int(steps), lr[0].removeprefix("lr") if lr else None)
    raise SystemExit(f"unknown row {row}")


def write_results(bench: Bench) -> None:
    from bench.results_md import render

    rows = {
        p.stem: json.loads(p.read_text())
        for p in sorted(bench.rows.glob("*.json"))
        if not p.name.startswith(".")
    }
    text, data = render(bench, rows, row_names(bench))
    out = REPO / "bench" / ("RESULTS.md" if bench.name == "cpu" else f"RESULTS-{bench.name}.md")
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=list(PROFILES), default="cpu")
    ap.add_argument("--only", nargs="+", help="rows to run (default: all, in order)")
    ap.add_argument("--report", action="store_true", help="only rewrite RESULTS.md from the rows done")
    ap.add_argument(
        "--rerun-recovered",
        action="store_true",
        help="also run the rows whose record was recovered from a committed RESULTS.json "
        "(bench/recover_rows.py): summary only, no per-structure or diagnostic figures",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "accuracy")
    args = ap.parse_args()
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", str(os.cpu_count() or 1))
    bench = Bench(args.profile, args.out)
    if not args.report:
        print(f"profile {args.profile}: {asdict(bench.p)}; atlas {bench.atlas()}", flush=True)
        for row in args.only or row_names(bench):
            f = bench.rows / f"{row}.json"
            if f.exists() and not (args.rerun_recovered and "recovered_from" in json.loads(f.read_text())):
                print(f"{row}: done", flush=True)
                continue
            t0 = time.perf_counter()
            print(f"{row}: running ...", flush=True)
            result = run_row(bench, row)
            result["row"], result["wall_seconds"] = row, time.perf_counter() - t0
            if bench.prep_id:
                result["prep"] = bench.prep_id
            result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
            bench.write_row(row, result)
            print(f"{row}: done in {result['wall_seconds']:.0f} s", flush=True)
            write_results(bench)
    write_results(bench)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``ltnet demo``: the main job end to end on the bundled synthetic brains, in a few minutes.

The bundled data (``ltnet/data/demo``, see its NOTICE.md) are 20 synthetic T1 images with their
label maps, on one 3 mm grid: real anatomy from SynthSeg's label maps, synthetic intensities
(:mod:`ltnet.synth`). The last two subjects are the scans to segment (the test subjects: left out
of the shipped model's pre-training, their labels read only to score). The demo picks the atlas
among the others with :func:`ltnet.atlas.select_atlas`, and does what a user's commands would do,
through the library functions behind them:

1. ``segment --affine-only``: the lower bound (the data are already affinely aligned, so this is
   the atlas's labels as they are);
2. ``segment`` with the shipped model (pre-trained on the other 17 unlabelled images by
   ``scripts/pretrain_demo_model.py``), where there is one;
3. ``train`` (full LT-Net, starting from the shipped model when there is one) on the scans to
   segment, as unlabelled images: the transductive setting of SPEC.md (a one-shot user trains on
   the very scans to segment, whose labels are never read), the benchmark's main rows' setting
   (fine-tuning on the pre-training pool instead left the demo's Dice where the shipped model had
   it, 0.607 against 0.605; on the scans to segment, 0.630). The default recipe trains each
   network on its own similarity and smoothness (its cycle family weighs 0: bench/RESULTS.md), and
   the demo says so. Then ``segment`` and ``evaluate`` them;
4. ``segment --adapt-steps 50``: the same model with test-time adaptation of each field;
5. ``report``: one HTML page with the loss curves, the Dice of every stage and the labels.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ltnet.errors import LtnetError

DEMO_DIR = Path(__file__).parent / "data" / "demo"
MODEL_NAME = "model.pt"
HELD_OUT = 2
ADAPT_STEPS = 50
OUTPUTS = (
    "run", "labels", "labels_affine", "labels_shipped", "labels_adapted",
    "scores", "scores_affine", "scores_shipped", "scores_adapted",
)  # fmt: skip


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured (mean Dice over the test subjects) and where its report is."""

    report: Path
    dice: float  # mean over the test subjects after the demo's training
    dice_affine: float
    dice_shipped: float | None  # the shipped model before the demo's training, if there is one
    dice_adapted: float  # after the demo's training, with test-time adaptation
    seconds: float


def demo_data(root: Path = DEMO_DIR) -> tuple[list[Path], list[Path]]:
    """The bundled (images, labels), paired by file name."""
    images = sorted((root / "images").glob("*.nii.gz"))
    labels = [root / "labels" / p.name for p in images]
    if len(images) < HELD_OUT + 2 or not all(p.exists() for p in labels):
        raise LtnetError(f"{root}: bundled demo data missing or incomplete (reinstall ltnet)")
    return images, labels


@dataclass(frozen=True)
class DemoSplit:
    """The bundled data as the demo and the shipped model's pre-training use them."""

    atlas: Path
    atlas_labels: Path
    candidates: int  # how many images the atlas was chosen among (all but the scans to segment)
    pretrain: tuple[Path, ...]  # the shipped model's unlabelled images: the candidates but the atlas
    test: tuple[Path, ...]  # the scans to segment, the demo's unlabelled images
    test_truth: tuple[Path, ...]  # their label maps, read only to score


def demo_split(root: Path = DEMO_DIR) -> DemoSplit:
    """The last ``HELD_OUT`` subjects are the scans to segment; the atlas is chosen among the others
    by :func:`ltnet.atlas.select_atlas`."""
    from ltnet.atlas import select_atlas

    images, labels = demo_data(root)
    pool = images[:-HELD_OUT]
    atlas, _ = select_atlas(pool)
    return DemoSplit(
        atlas=atlas,
        atlas_labels=labels[images.index(atlas)],
        candidates=len(pool),
        pretrain=tuple(p for p in pool if p != atlas),  # the atlas is not one of its own unlabelled images
        test=tuple(images[-HELD_OUT:]),
        test_truth=tuple(labels[-HELD_OUT:]),
    )


def run_demo(
    out: str | os.PathLike,
    steps: int,
    device: str = "cpu",
    quiet: bool = False,
    overwrite: bool = False,
    use_shipped: bool = True,
) -> DemoResult:
    """Run the demo into ``out`` (see the module's docstring): ``steps`` training steps, from the
    shipped model when ``use_shipped`` and there is one. An earlier demo there needs ``overwrite``."""
    import torch

    from ltnet.atlas import load_atlas
    from ltnet.cache import PrepCache
    from ltnet.checkpoint import checkpoint_config, load_checkpoint
    from ltnet.config import NetConfig, PrepConfig, SegmentConfig, TrainConfig
    from ltnet.evaluate import evaluate_files, write_evaluation
    from ltnet.io import expand_inputs
    from ltnet.report import build_report
    from ltnet.segment import load_trained, segment_files
    from ltnet.train import train
    from ltnet.trainset import load_train_data

    t0 = time.perf_counter()
    out = Path(out)
    existing = [out / d for d in OUTPUTS if (out / d).exists()]
    if existing and not overwrite:
        raise LtnetError(
            f"{out}: holds an earlier demo; pass --overwrite to run it again, or choose another --out"
        )
    for d in existing:
        shutil.rmtree(d)
    out.mkdir(parents=True, exist_ok=True)

    split = demo_split()
    atlas, atlas_labels = split.atlas, split.atlas_labels
    test, test_truth = list(split.test), list(split.test_truth)
    say = (lambda *a: None) if quiet else (lambda *a: print("ltnet demo:", *a, file=sys.stderr))
    held = ", ".join(p.name for p in test)
    say(f"atlas {atlas.name} (select-atlas among {split.candidates} images); scans to segment: {held}")
    # the demo brains share one grid already (--prealigned); nothing is cached (--no-cache)
    prep, cache, dev = PrepConfig(prealigned=True), PrepCache(None), torch.device(device)

    def segment_and_score(name: str, model_dir: Path | None = None, adapt_steps: int = 0) -> float:
        """ltnet segment (the run in ``model_dir``, or the affine alone), then ltnet evaluate."""
        labels_dir = out / f"labels{name}"
        if model_dir is None:
            the_atlas, the_prep, model, amp = load_atlas(atlas, atlas_labels, prep), prep, None, False
        else:
            trained = load_trained(model_dir, dev)
            the_atlas, the_prep, model, amp = trained.atlas, trained.prep, trained.model, trained.config.amp
        cfg = SegmentConfig(adapt_steps=adapt_steps)
        segment_files(
            the_atlas,
            the_prep,
            model,
            test,
            labels_dir,
            cfg,
            cache=cache,
            amp=amp,
            progress=not quiet,
            workers=1,
        )
        result = evaluate_files(expand_inputs([labels_dir], stem_suffix="_labels"), test_truth)
        write_evaluation(result, out / f"scores{name}")
        return float(result.to_json()["summary"]["mean"])

    say("affine only ...")
    dice_affine = segment_and_score("_affine")
    shipped = DEMO_DIR / MODEL_NAME
    dice_shipped, init, half_res = None, None, True  # half-res: a fifth of the SPEC layout's FLOPs
    if use_shipped and shipped.exists():
        say("the shipped model, before this demo's training ...")
        dice_shipped = segment_and_score("_shipped", shipped)
        init = shipped
        half_res = checkpoint_config(load_checkpoint(shipped), shipped).net.half_res  # its layout
    # transductive (SPEC.md): the unlabelled images are the scans to segment (labels never read)
    unlabelled = list(test)
    cfg = TrainConfig.for_recipe(
        "ltnet", variant="full", steps=steps, checkpoint_every=max(1, steps), net=NetConfig(half_res=half_res)
    )
    # say what the networks train on rather than call it the full objective
    phase = ""
    if not cfg.runs_cycle:
        phase = " (each network on its own L_sim and L_smooth: the default recipe weighs the cycle terms 0)"
    elif steps <= cfg.warmup_steps:
        phase = (
            f", all inside the recipe's {cfg.warmup_steps}-step warm-up (each network on its own L_sim "
            "and L_smooth; the cycle terms' weights are still 0)"
        )
    say(f"training the full LT-Net for {steps} steps on the {len(unlabelled)} scans to segment{phase} ...")
    data = load_train_data(atlas, atlas_labels, unlabelled, prep, cache, progress=not quiet)
    train(cfg, data, out / "run", device=dev, progress=not quiet, init=init)
    dice = segment_and_score("", out / "run")
    say(f"... and with {ADAPT_STEPS} steps of test-time adaptation per subject (segment --adapt-steps)")
    dice_adapted = segment_and_score("_adapted", out / "run", ADAPT_STEPS)
    scores = {
        "LT-Net (this demo)": out / "scores",
        f"+ adaptation ({ADAPT_STEPS} steps)": out / "scores_adapted",
    }
    if dice_shipped is not None:
        scores["shipped model (before)"] = out / "scores_shipped"
    scores["affine only"] = out / "scores_affine"
    seconds = time.perf_counter() - t0
    notes = [
        f"Bundled demo: {split.candidates + len(test)} synthetic T1 images (real anatomy from SynthSeg's "
        f"label maps, synthetic intensities) on a 3 mm grid; atlas {atlas.name}; test subjects {held}, the "
        f"unlabelled images of the training (labels read only to score); {steps} training steps"
        + (" starting from the shipped model" if init else " from scratch")
        + phase
        + f"; {seconds:.0f} s in all."
    ]
    report = build_report(
        out / "run",
        out / "report.html",
        labels_dir=out / "labels",
        truth=test_truth,
        scores=scores,
        title="ltnet demo",
        notes=notes,
    )
    return DemoResult(report, dice, dice_affine, dice_shipped, dice_adapted, time.perf_counter() - t0)

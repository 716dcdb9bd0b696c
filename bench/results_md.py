"""RESULTS.md from the rows ``bench/accuracy.py`` has measured so far (a pure function of them)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.candidates import CANDIDATES

LADDER = ("voxelmorph", "gan", "cycle", "trans", "anat", "trans-anat", "full")
LADDER_NAMES = {
    "voxelmorph": "VoxelMorph (L_sim + L_smooth)",
    "gan": "+ L_GAN",
    "cycle": "+ backward path, L_cyc (paper's baseline)",
    "trans": "cycle + L_trans",
    "anat": "cycle + L_anat",
    "trans-anat": "cycle + L_trans + L_anat",
    "full": "+ L_diff: LT-Net",
}
# the row each ladder step adds its term to (SPEC: + L_anat replaces + L_trans on the cycle baseline)
LADDER_BASE = {
    "gan": "voxelmorph",
    "cycle": "gan",
    "trans": "cycle",
    "anat": "cycle",
    "trans-anat": "trans",
    "full": "trans-anat",
}
# a claim "A beats B" holds when A's mean Dice is at least this much higher
CLAIM_MARGIN = 0.005
# Paper, CANDI, mean Dice (%): tables 2 and 3 (the ladder)
PAPER = {
    "voxelmorph": 76.0,
    "gan": 79.0,
    "cycle": 79.2,
    "trans": 80.9,
    "anat": 80.5,
    "trans-anat": 81.4,
    "full": 82.3,
}
# the paper's nearest row for the other rows: MABMIS with k atlases for jlf-k, DataAug and the
# supervised U-Net from the text (SPEC, 'What the paper reports')
PAPER_OTHER = {"jlf-2": 70.4, "jlf-3": 74.5, "jlf-4": 77.8, "jlf-5": 81.1, "dataaug": 80.4, "unet": 86.5}


def paper_value(row: str) -> float | None:
    """The paper's mean Dice (%) for a row name such as ``ladder-full-s0`` or ``jlf-3``; None if none."""
    if row.startswith(("ladder-", "paper-ladder-")):
        return PAPER.get(row.split("ladder-", 1)[1].rsplit("-s", 1)[0])
    return PAPER_OTHER.get(row)


def _f(v, d=3):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{d}f}"


def _subject_means(row: dict) -> dict[str, float]:
    return {k: v["mean"] for k, v in row["dice"]["subjects"].items()}


def _paired(a: dict, b: dict) -> list[float]:
    """Row ``b``'s per-subject mean Dice minus row ``a``'s, over the subjects both scored."""
    ma, mb = _subject_means(a), _subject_means(b)
    return [mb[k] - ma[k] for k in mb if k in ma]


def _score_diffs(after: dict, before: dict) -> list[float]:
    """Per-subject differences of two screen scores (``{"subjects": {name: Dice}, ...}``)."""
    return [v - before["subjects"][k] for k, v in after["subjects"].items()]


def _delta_cells(diffs: list[float]) -> tuple[str, str]:
    """Table cells for paired differences: 'mean (std)' and 'improved/pairs'."""
    d = np.array(diffs)
    return f"{d.mean():+.3f} ({d.std():.3f})", f"{int((d > 0).sum())}/{d.size}"


def _time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


# rows that segment with ladder-full-s0's model (``Bench.base_run``) or one fine-tuned from it
BUILT_ON_BASE = ("default", "fast", "qc", "adapt-", "ltnet-mas-")


def on_an_older_base(name: str, rows: dict[str, dict]) -> bool:
    """Whether ``name`` (or its ``paper-`` twin) builds on its recipe's ``ladder-full-s0`` and was
    measured before that row's present record: its figures are then those of an earlier model."""
    prefix = "paper-" if name.startswith("paper-") else ""
    inner = name[len(prefix) :]
    if not inner.startswith(BUILT_ON_BASE):
        return False
    base = rows.get(f"{prefix}ladder-full-s0", {}).get("finished")
    done = rows.get(name, {}).get("finished")
    return base is not None and done is not None and done < base


def render(bench, rows: dict[str, dict], order: list[str]) -> tuple[str, dict]:
    p = bench.p
    atlas = rows.get("atlas", {}).get("atlas", "?")
    prep = rows.get("affine", {}).get("prep_seconds_per_subject")
    lines = [
        "# ltnet accuracy benchmark",
        "",
        f"Written by `python -m bench.accuracy --profile {bench.name}` on {time.strftime('%Y-%m-%d %H:%M')}, "
        "from the rows measured so far (each row is a file under "
        f"`bench/results/{bench.name}/rows/`, kept in git; rerunning the script runs only the missing rows).",
        "",
        f"- Profile `{bench.name}`: {asdict(p)}.",
        f"- Atlas (`ltnet select-atlas` among the seven): **{atlas}**. Test set: the six others, scored by "
        "`ltnet evaluate` in each subject's native space on the SPEC's 28 structures (Dice as a fraction).",
        "- Learned rows: one `ltnet train` and one `ltnet segment` each; pool = the six test images "
        "(transductive, labels never read) unless stated; same working box, spacing, steps and seeds. "
        "`ladder-*` and the rows built on `ladder-full-s0` train with ltnet's default recipe (since "
        "2026-12-07 the cycle family at 0, its path not run; the rows measured under the earlier "
        "default, × 0.01, are the candidate rows `cyc001-*`, and the rows built on `ladder-full-s0` that "
        "were not measured again are marked §); their "
        "`paper-*` twins with `--recipe paper` (eq. 11). The `paper-*` rows measured before 2026-12-03 "
        "had the atlas itself in the pool (all seven images), which `ltnet train` now leaves out.",
        f"- Preparation (ANTs affine of each scan to the atlas, then resampling) is done once and pinned: "
        f"the transforms are in `bench/results/prep-{p.spacing:g}mm.json`, and every learned row and "
        "the affine row run since then record the pins they used (`prep`); the rows marked † were "
        "prepared before, each time anew.",
        "- Seconds per subject: network and label transfer, preparation excluded; with preparation adds "
        f"the ANTs affine measured on a cold cache in the affine row ({_f(prep, 1)} s per subject).",
        f"- ANTs rows: SyN (antspyx `registration`, `SyN`) on {p.syn_spacing:g} mm copies of the scans, "
        "labels warped onto the native grid with `genericLabel`; its seconds include that warp. `jlf-k`: "
        "`joint_label_fusion` (beta 2, radius 2) of the first k other subjects' SyN-warped images and "
        f"labels, fused on the {p.syn_spacing:g} mm grid, label posteriors interpolated to native; its "
        "seconds are the k registrations, their warps and the fusion. The pairwise registrations are "
        "computed once and shared.",
        "",
        "## All rows",
        "",
        "| row | mean (std) | min | max | s / subject | s / subject with prep | training "
        "| paper (CANDI, %; jlf-k: MABMIS k) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    data: dict = {"profile": bench.name, "settings": asdict(p), "atlas": atlas, "rows": {}}
    missing, recovered, older = [], [], []
    for name in order:
        r = rows.get(name)
        if r is None or "dice" not in r:
            if name != "curve":
                parts = rows.get(f"{name}.partial", {}).get("parts", {})
                done = f" (parts done: {', '.join(parts)})" if parts else ""
                missing.append(f"`{name}`{done}")
            continue
        s = r["dice"]["summary"]
        sec = r.get("seconds_per_subject")
        with_prep = sec + prep if not name.startswith(("syn", "jlf")) and sec is not None and prep else sec
        mark = " †" if "recovered_from" in r else ""
        if mark:
            recovered.append(r["recovered_from"])
        if on_an_older_base(name, rows):
            mark += " §"
            older.append(name)
        lines.append(
            f"| {name}{mark} | {_f(s['mean'])} ({_f(s['std'])}) | {_f(s['min'])} | {_f(s['max'])} "
            f"| {_f(sec, 1)} | {_f(with_prep, 1)} | {_time(r.get('train_seconds'))} "
            f"| {_f(paper_value(name), 1)} |"
        )
        data["rows"][name] = {
            "summary": s,
            "subjects": _subject_means(r),
            "seconds_per_subject": sec,
            "seconds_per_subject_with_prep": with_prep,
            "train_seconds": r.get("train_seconds"),
        }
    if recovered:
        lines += [
            "",
            f"† Recovered from {', '.join(sorted(set(recovered)))} (`bench/recover_rows.py`): these rows "
            "were measured before the row records were kept in git, and only their mean and per-subject "
            "Dice, seconds and training time survive. They are left out of the per-structure table and "
            "the diagnostics until `accuracy.py --rerun-recovered` measures them again.",
        ]
    if older:
        lines += [
            "",
            "§ Built on an earlier `ladder-full-s0` model (the default recipe of its day, cycle family × "
            "0.01, row `cyc001-ladder-full-s0`): measured before the row it builds on was trained again, "
            "and not yet measured on the new one. Rerun them with `--only` after removing their records.",
        ]
    if missing:
        lines += ["", "Not yet run: " + ", ".join(missing) + "."]

    # the ladder, with paired per-subject differences from the row above (over subjects x seeds)
    lines += _ladder(bench, rows, "ladder-", "The ablation ladder (paper tables 2-4), ltnet's recipe")
    lines += versus_voxelmorph(rows, bench.p.seeds)
    lines += _ladder(bench, rows, "paper-ladder-", "The ablation ladder with the paper's recipe (eq. 11)")
    gpu = Path(__file__).resolve().parent / "RESULTS-cpu-cuda.md"
    if bench.name == "cpu" and gpu.exists():
        lines += [
            "",
            "Rows of the paper's recipe at these settings trained on a lent GPU (bf16 autocast) are in "
            "[RESULTS-cpu-cuda.md](RESULTS-cpu-cuda.md), kept apart from these tables.",
        ]
    lines += recipe_section()
    lines += ingredient_section()
    lines += symmetric_section()
    lines += warm_start_section()
    lines += versus_syn_1mm(rows, prep)
    lines += syn_iterations_section(rows) if "syn-1mm" in rows else []
    lines += refine_section()
    lines += affine_cost_section()
    lines += multi_atlas_section(rows, prep)

    curve = rows.get("curve") or rows.get("curve.partial") or {}  # points so far while it runs
    points = curve.get("points") or []
    if points:
        lines += [
            "",
            "## Learning curve (full LT-Net, seed 0, held-in Dice of the six test subjects)",
            "",
            "| steps | mean Dice (std) | training time |",
            "| --- | --- | --- |",
        ]
        src = curve.get("recovered_from")
        for pt in sorted(points, key=lambda q: q["steps"]):
            mark = " †" if src and "finished" not in pt else ""
            lines.append(
                f"| {pt['steps']}{mark} | {_f(pt['mean'])} ({_f(pt['std'])}) | {_time(pt['train_seconds'])} |"
            )
        if src:
            lines += ["", f"† Recovered from the table of {src} (times rounded as printed)."]
        lines += [
            "",
            "The same settings trained to 2000 steps on a GPU, scored the same way: `bench/GPU.md`.",
        ]
    lines += _trajectories(rows, order)

    # per structure, left and right merged (paper table 5)
    chosen = [("affine", "affine")]
    chosen += [(f"ladder-voxelmorph-s{p.seeds[0]}", "VoxelMorph"), (f"ladder-full-s{p.seeds[0]}", "LT-Net")]
    chosen += [("dataaug", "DataAug"), ("syn", "ANTs SyN"), ("syn-1mm", "ANTs SyN 1 mm")]
    chosen += [("default", "ltnet segment (default)")]
    jlf = [n for n in rows if n.startswith("jlf-") and "dice" in rows[n]]
    if jlf:
        best = max(jlf, key=lambda n: rows[n]["dice"]["summary"]["mean"])
        chosen.append((best, f"JLF ({best.split('-')[1]} atlases)"))
    chosen = [(k, label) for k, label in chosen if k in rows and "merged" in rows[k].get("dice", {})]
    if chosen:
        structures = list(rows[chosen[0][0]]["dice"]["merged"])
        lines += [
            "",
            "## Per structure (left and right merged; mean Dice over the six subjects)",
            "",
            "| structure | " + " | ".join(label for _, label in chosen) + " |",
            "| --- |" + " --- |" * len(chosen),
        ]
        for st in structures:
            cells = [_f(rows[k]["dice"]["merged"].get(st, {}).get("mean")) for k, _ in chosen]
            lines.append(f"| {st} | " + " | ".join(cells) + " |")
    lines += _extras(rows, p, bench.store)
    lines += _pictures(Path(__file__).resolve().parent / "figures")
    return "\n".join(lines) + "\n", data


def _across_preparations(store: Path) -> str:
    """The footnote of a ladder step whose pairs were prepared (ANTs affine) in different sessions."""
    text = (
        "‡ Some pairs compare rows whose scans were prepared (ANTs affine to the atlas) in different "
        "sessions, before the preparation was pinned (`bench/results/prep-*.json`, `prep` in each row "
        "record); ANTs' affine is not repeatable even with a fixed seed."
    )
    f = store / "experiments" / "affine-prep-repeat.json"
    if f.exists():
        rec = json.loads(f.read_text())
        a, b = rec["a"]["subjects"], rec["b"]["subjects"]
        d = np.array([b[k] - a[k] for k in a if k in b])
        where = Path("bench") / f.relative_to(store.parent.parent)
        text += (
            f" Two such preparations of the same scans moved the affine-only row's per-subject Dice by "
            f"up to {np.abs(d).max():.3f} (mean {d.mean():+.3f}; `{where}`)."
        )
    return text


def _pictures(folder: Path) -> list[str]:
    """Links to the paper-style figures ``bench/figures.py`` drew from these rows, if any."""
    figs = [
        ("fig3-synthetic.png", "Figure 3: real images y beside the synthetic images y_bar (warped atlas)"),
        ("fig4-labels.png", "Figure 4: the labels of each method beside the truth (one coronal slice)"),
    ]
    present = [(f, t) for f, t in figs if (folder / f).exists()]
    if not present:
        return []
    out = ["", "## Pictures (`python -m bench.figures`, from the rows above)", ""]
    return out + [f"- [{t}](figures/{f})" for f, t in present]


def _folding(row: dict) -> float | None:
    v = [s.get("deformation", {}).get("folding_percent") for s in row["dice"]["subjects"].values()]
    v = [x for x in v if x is not None]
    return float(np.mean(v)) if v else None


def _mean(rows: dict, name: str) -> float | None:
    r = rows.get(name)
    return r["dice"]["summary"]["mean"] if r and "dice" in r else None


SCREEN_DIR = Path(__file__).resolve().parent / "results" / "cpu" / "screen"
# TrainConfig fields a screen may change, and how the table names them
SCREEN_FIELDS = {
    "lambda_gan": "λ_GAN {}",
    "cycle_scale": "cycle ×{}",
    "cycle_penalty": "{} residuals",
    "warmup_steps": "warm-up {}",
    "ramp_steps": "ramp {}",
    "backward_sim": "G_B's own L_sim {}",
    "symmetric_sim": "L_sim of the mean field ×{}",
    "disc_augment": "D augmentation {}",
    "r1_gamma": "R1 γ {}",
    "ema_decay": "EMA {}",
    "lr": "lr {}",
}


def recipe_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """The recipe screens (``bench/investigations/recipe_screen.py``): one row per screen, what it
    changes from the paper's recipe, Dice on the working grid, paired against the VoxelMorph screen
    of the same steps and seed, and the forward field's size at the end."""
    from ltnet.config import TrainConfig, acting_fields, get_variant

    recs = [json.loads(f.read_text()) for f in sorted(screen_dir.glob("*.json"))]
    recs = [r for r in recs if r["config"]["steps"] >= 100 and not r.get("init")]
    if not recs:
        return []
    paper = TrainConfig.for_recipe("paper").to_dict()

    def key(c: dict) -> tuple:
        return c["steps"], c["seed"], c.get("ema_decay", 0.0), c.get("lr")

    vxm = {key(r["config"]): r for r in recs if r["config"]["variant"] == "voxelmorph"}
    lines = [
        "",
        "## Recipe screens (issue 30: making LT-Net learn)",
        "",
        "`python -m bench.investigations.recipe_screen --tag T --steps N --set FIELD=VALUE ...`: the "
        "benchmark's atlas and pinned preparation, 2 mm, half-resolution field, pool = the six other "
        "brains (never the atlas), one seed; Dice of the 28 structures on the working grid (the "
        "truth resampled there; affine alone: 0.707), so a screen ranks recipes but is not a "
        "benchmark row. Δ vs VoxelMorph: paired per subject against the VoxelMorph screen of the "
        "same steps, seed, learning rate and EMA. |dpF|: the segmenting model's mean displacement over the "
        "six subjects, voxels (a collapsed field is about 0.01). s / step: wall seconds of "
        "training over steps; most screens ran two at a time with one thread each, so compare "
        "seconds only between rows of one kind (vxm-300 also shared the machine with a test run).",
        "",
        "| screen | variant | steps | what differs from the paper's recipe | Dice | Δ vs VoxelMorph "
        "| improved | \\|dpF\\| | s / step |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in recs:
        c = r["config"]
        acts = acting_fields(get_variant(c["variant"]), c["lambda_gan"], c["cycle_scale"])
        changes = [
            fmt.format(c[k])
            for k, fmt in SCREEN_FIELDS.items()
            if k in acts & set(c) and c[k] != paper.get(k)
        ]
        if c.get("net", {}).get("shared_generator"):
            changes.append("one network for G_F and G_B")
        ref = vxm.get(key(c))
        delta, improved = "-", "-"
        if ref is not None and ref is not r:
            a, b = ref["dice"]["subjects"], r["dice"]["subjects"]
            delta, improved = _delta_cells([b[k] - a[k] for k in b if k in a])
        secs = r["train_seconds"] / max(1, c["steps"])
        lines.append(
            f"| {r['tag']} | {c['variant']} | {c['steps']} | {', '.join(changes) or 'none'} "
            f"| {_f(r['dice']['mean'])} | {delta} | {improved} | {_f(r['dice']['dpF_mean_abs'])} "
            f"| {secs:.2f} |"
        )
    return lines


# issue 30's evidence: the paper's recipe, then one ingredient at a time (300-step screens, one seed);
# warm-up and ramp are 100 + 100 steps here, so that the cycle terms reach their full weight in 300
INGREDIENTS = (  # (screen, what it adds, the screen it adds to)
    ("paper-300", "the paper's recipe (eq. 11), atlas left out of D's real images", None),
    ("paper-aug-300", "+ DiffAugment on D's real and fake, R1 γ 1", "paper-300"),
    ("paper-aug-gan0.01-300", "+ λ_GAN 1 → 0.01", "paper-aug-300"),
    ("paper-aug-gan0.01-cyc0.01-300", "+ cycle family × 0.01", "paper-aug-gan0.01-300"),
    (
        "paper-aug-gan0.01-cyc0.01-sched-300",
        "+ warm-up 100 and ramp 100 steps",
        "paper-aug-gan0.01-cyc0.01-300",
    ),
    ("ltnet-noema-300", "+ G_B's own L_sim on real pairs", "paper-aug-gan0.01-cyc0.01-sched-300"),
    ("ltnet-300", "+ EMA 0.99 of the generators", "ltnet-noema-300"),
    (
        "ltnet-noema-nogan-300",
        "λ_GAN 0.01 → 0 (no D): ltnet's default recipe from 2026-12-03 to 2026-12-07",
        "ltnet-noema-300",
    ),
)


def ingredient_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """The paper's recipe with one ingredient added at a time (issue 30), from the screens' records:
    Dice, the paired change from the step before, the gap to VoxelMorph and the field's size."""
    recs = {f.stem: json.loads(f.read_text()) for f in screen_dir.glob("*.json")}
    steps = [(tag, what, base, recs[tag]) for tag, what, base in INGREDIENTS if tag in recs]
    vxm = recs.get("vxm-noema-300")
    if not steps or vxm is None:
        return []
    lines = [
        "",
        "### One ingredient at a time",
        "",
        "The screens above in the order of issue 30, each adding one ingredient to the screen it "
        "builds on (300 steps, seed 0, working-grid Dice; VoxelMorph's screen: "
        f"{_f(vxm['dice']['mean'])}). Δ: paired per subject, mean (std), and subjects improved.",
        "",
        "| screen | adds | Dice | Δ vs the screen it builds on | improved | Δ vs VoxelMorph | improved "
        "| end mean \\|dpF\\| |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for tag, what, base, r in steps:
        subj = r["dice"]["subjects"]
        d_prev, i_prev = ("-", "-")
        if base in recs:
            before = recs[base]["dice"]["subjects"]
            d_prev, i_prev = _delta_cells([subj[n] - before[n] for n in subj if n in before])
        d_vxm, i_vxm = _delta_cells([subj[n] - vxm["dice"]["subjects"][n] for n in subj])
        lines.append(
            f"| {tag} | {what} | {_f(r['dice']['mean'])} | {d_prev} | {i_prev} | {d_vxm} | {i_vxm} "
            f"| {_f(r['dice']['dpF_mean_abs'])} |"
        )
    control = recs.get("ltnet-nogan-cyc0-300")
    if control is not None:
        c = control["dice"]
        d, i = _delta_cells([c["subjects"][n] - vxm["dice"]["subjects"][n] for n in c["subjects"]])
        lines += [
            "",
            f"Control, `ltnet-nogan-cyc0-300`: the default recipe with the cycle family × 0, so that G_F's "
            "objective is VoxelMorph's but for L_smooth on G_B's cycle-path field, which still reached G_F "
            "(its gradient on dpF is 2.5% of L_sim's: `bench.investigations.cycle_path_smooth`; since "
            "2026-12-07 training at × 0 leaves the cycle path out, and that term with it); G_B "
            f"trains on its own L_sim beside it. G_F scored {_f(c['mean'])}, "
            f"{d} against the VoxelMorph screen ({i} subjects better). The two differ in that small term "
            "and in G_F's initialisation (the full model draws G_B's weights too), which puts one screen's "
            "seed-to-seed noise at about 0.02: the size of most gaps in this table. One seed does "
            "not rank these recipes; the cpu-profile rows above decide.",
        ]
    missing = [tag for tag, _, _ in INGREDIENTS if tag not in recs]
    if missing:
        lines += ["", "Not screened yet: " + ", ".join(f"`{t}`" for t in missing) + "."]
    return lines


def symmetric_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """``bench/investigations/symmetric_inference.py``: each screened model with a backward network
    segmenting with G_F's field alone, with G_B's inverted, and with their mean (segment's default)."""
    recs = [json.loads(f.read_text()) for f in sorted((screen_dir / "symmetric").glob("*.json"))]
    if not recs:
        return []
    lines = [
        "",
        "### Both directions at inference",
        "",
        "`python -m bench.investigations.symmetric_inference RUN ...` on the screens' models: G_F's "
        "field alone (the paper's inference), the inverse of G_B's image-to-atlas field (fixed-point "
        "iteration, 20 steps), and their mean, which `ltnet segment` uses by default for a model with "
        "a backward network (`--forward-only`: the paper's). Working-grid Dice; Δ paired per subject.",
        "",
        "| screen's model | G_F alone | G_B inverted | mean of both | Δ mean vs G_F | improved |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in recs:
        d, i = _delta_cells(list(r["symmetric_minus_forward"].values()))
        lines.append(
            f"| {Path(r['run']).name} | {_f(r['forward']['mean'])} | {_f(r['backward_inverted']['mean'])} "
            f"| {_f(r['symmetric']['mean'])} | {d} | {i} |"
        )
    return lines


def warm_start_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """Paired warm-start screens (``recipe_screen --init RUN``): a trained model given N more steps
    of a recipe, scored against the model it started from, paired per subject: G_F alone always
    (the screen's own score against the start's ``symmetric_inference`` or screen record), the mean
    of both directions where ``symmetric_inference`` was run on both. Arms from one start differ in
    one setting, not in initialisation."""
    from ltnet.config import get_variant

    screens = {f.stem: json.loads(f.read_text()) for f in sorted(screen_dir.glob("*.json"))}
    sym = {f.stem: json.loads(f.read_text()) for f in sorted((screen_dir / "symmetric").glob("*.json"))}
    # a start's G_F (and, where measured, the mean of both directions), by run folder name
    starts = {n: {"forward": r["dice"]} for n, r in screens.items() if not r.get("init")}
    starts |= {n: {"forward": r["forward"], "symmetric": r["symmetric"]} for n, r in sym.items()}
    recs = [r for r in screens.values() if r.get("init") and Path(r["init"]).name in starts]
    if not recs:
        return []
    lines = [
        "",
        "### Warm-start screens",
        "",
        "`python -m bench.investigations.recipe_screen --init RUN --steps N --set ...`: N more steps "
        "of a recipe (fresh optimiser, no warm-up or ramp) from a trained model, so that the "
        "arms share their start and differ in one setting; working-grid Dice, Δ paired per subject "
        "against the start (G_F alone against the start's G_F; the mean of both directions against "
        "the start's, where `symmetric_inference` was run on both models).",
        "",
        "| screen | variant | from (G_F; mean of both) | steps | lr | cycle × | L_sim of the mean field × "
        "| G_F alone | Δ vs the start | improved | mean of both | Δ vs the start | improved | \\|dpF\\| |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def paired(after: dict, before: dict) -> list[str]:
        return [_f(after["mean"]), *_delta_cells(_score_diffs(after, before))]

    for r in recs:
        c, name = r["config"], Path(r["init"]).name
        start, after = starts[name], sym.get(r["tag"])
        both = start.get("symmetric")
        cells = paired(after["symmetric"], both) if after and both else ["-", "-", "-"]
        began = _f(start["forward"]["mean"]) + (f"; {_f(both['mean'])}" if both else "")
        backward = get_variant(c["variant"]).backward  # without G_B, no cycle term acts
        cyc, sym_w = (c["cycle_scale"], c.get("symmetric_sim", 0.0)) if backward else ("-", "-")
        lines.append(
            f"| {r['tag']} | {c['variant']} | {name} ({began}) | {c['steps']} | {c['lr']:g} | {cyc} "
            f"| {sym_w} | {' | '.join(paired(r['dice'], start['forward']))} "
            f"| {' | '.join(cells)} | {_f(r['dice'].get('dpF_mean_abs'), 2)} |"
        )
    # arms that share a start and a length, against each other: the comparison the design is for
    key = lambda r: (r["init"], r["config"]["steps"])  # noqa: E731
    pairs = [(a, b) for i, a in enumerate(recs) for b in recs[i + 1 :] if key(a) == key(b)]
    if pairs:
        lines += ["", "Arms from one start against each other (G_F alone, paired per subject):", ""]
    for a, b in pairs:
        d, i = _delta_cells(_score_diffs(a["dice"], b["dice"]))
        lines.append(f"- {a['tag']} − {b['tag']}: {d}, {i} subjects better")
    return lines


VERSUS_SYN = ("default", "fast", "adapt-field-200", "ladder-full-s0", "syn")


def versus_syn_1mm(rows: dict, prep: float | None) -> list[str]:
    """Issue 31: segment's default and ``--fast`` against single-atlas SyN at 1 mm, paired per
    subject, with the seconds a user waits (ltnet's rows with the ANTs affine preparation)."""
    syn = rows.get("syn-1mm")
    if not syn or "dice" not in syn:
        return []
    syn_sec = syn["seconds_per_subject"]
    lines = [
        "",
        "## ltnet segment against ANTs SyN at 1 mm (issue 31)",
        "",
        "`syn-1mm`: antspyx SyN (its affine stage included) from the atlas to each scan at the scans' "
        "native 1 mm, labels by `genericLabel`. `default`: `ltnet segment --model` with no extra flag on "
        "ladder-full-s0's model (network at 2 mm, both directions, then the field carried to 1 mm, "
        "refined there and the labels transferred from the 1 mm atlas); `fast`: with `--fast` (no "
        "refinement steps). ltnet's seconds include the ANTs affine preparation "
        f"({_f(prep, 1)} s, the affine row's cold-cache figure). Δ: paired per subject against syn-1mm. "
        "SyN runs with antspyx's defaults, as a user calls it: `reg_iterations=(40, 20, 0)`, so its "
        "deformable stage does not iterate at the finest (1 mm) level; a SyN with iterations there "
        "was not measured (it would take longer).",
        "",
        "| row | mean Dice | Δ vs syn-1mm | improved | s / subject (with prep) | time vs syn-1mm |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| syn-1mm | {_f(syn['dice']['summary']['mean'])} | - | - | {_f(syn_sec, 1)} | 1 |",
    ]
    for name in VERSUS_SYN:
        r = rows.get(name)
        if not r or "dice" not in r:
            continue
        d, i = _delta_cells(_paired(syn, r))
        sec = r.get("seconds_per_subject")
        total = sec + (prep or 0.0) if sec is not None and not name.startswith("syn") else sec
        ratio = (
            "-"
            if not total
            else f"1/{syn_sec / total:.1f}"
            if total <= syn_sec
            else f"{total / syn_sec:.1f} x"
        )
        lines.append(
            f"| {name} | {_f(r['dice']['summary']['mean'])} | {d} | {i} | {_f(total, 1)} | {ratio} |"
        )
    return lines


def multi_atlas_section(rows: dict, prep: float | None) -> list[str]:
    """Issue 32: ltnet-mas-k against jlf-k with the same atlases, paired per subject, and JLF's
    registrations fused by ltnet's rule (syn-fused-k)."""
    ks = [
        k
        for k in (2, 3, 4, 5)
        if "dice" in rows.get(f"ltnet-mas-{k}", {}) and "dice" in rows.get(f"jlf-{k}", {})
    ]
    if not ks:
        return []
    lines = [
        "",
        "## Several atlases, fused (issue 32)",
        "",
        "For each test subject, the k atlases of `jlf-k` (the chosen atlas sub-03, then the other subjects "
        "in name order; never the subject itself). `ltnet-mas-k`: one `ltnet segment --model --atlas A1 .. Ak"
        " --atlas-labels L1 .. Lk` per subject with ladder-full-s0's model, which was trained with sub-03 "
        "alone as its atlas (so no label of a test subject was read in training; the other atlases' "
        "labels are read at fusion only, never the scored subject's); `segment`'s defaults with several "
        "atlases: the network in both directions, 25 adaptation steps per atlas on the 2 mm working "
        "grid, local weighted fusion there, fused probabilities carried to the native grid. Its seconds "
        f"add the scan's ANTs affine ({_f(prep, 1)} s); each atlas's own alignment to the model's atlas "
        "is done once (cached), like training, and not counted. `syn-fused-k`: the SyN registrations of "
        "`jlf-k`, their warped images and labels fused on the native grid by ltnet's rule instead of "
        "JLF. Δ: paired per subject against `jlf-k` (6 subjects).",
        "",
        "| k | jlf-k | s | ltnet-mas-k | s (with prep) | Δ vs jlf-k | improved | time vs jlf-k "
        "| ltnet-mas-trained-k | s (with prep) | Δ vs jlf-k | improved | syn-fused-k | Δ vs jlf-k |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in ks:
        jlf, mas, sf = rows[f"jlf-{k}"], rows[f"ltnet-mas-{k}"], rows.get(f"syn-fused-{k}", {})
        d, i = _delta_cells(_paired(jlf, mas))
        total = mas["seconds_per_subject"] + (prep or 0.0)
        sd = _delta_cells(_paired(jlf, sf))[0] if "dice" in sf else "-"
        sf_mean = _f(sf["dice"]["summary"]["mean"]) if "dice" in sf else "-"
        tr = rows.get(f"ltnet-mas-trained-{k}", {})
        if "dice" in tr:
            td, ti = _delta_cells(_paired(jlf, tr))
            trained = (
                f"{_f(tr['dice']['summary']['mean'])} | {_f(tr['seconds_per_subject'] + (prep or 0.0), 1)}"
            )
            trained += f" | {td} | {ti}"
        else:
            trained = "- | - | - | -"
        lines.append(
            f"| {k} | {_f(jlf['dice']['summary']['mean'])} | {_f(jlf['seconds_per_subject'], 1)} "
            f"| {_f(mas['dice']['summary']['mean'])} | {_f(total, 1)} | {d} | {i} "
            f"| 1/{jlf['seconds_per_subject'] / total:.1f} | {trained} | {sf_mean} | {sd} |"
        )
    tr, jlf5 = rows.get("ltnet-mas-trained-5", {}), rows.get("jlf-5", {})
    if "dice" in tr and "dice" in jlf5:
        d, i = _delta_cells(_paired(jlf5, tr))
        mas5 = rows.get("ltnet-mas-5", {})
        d0, i0 = _delta_cells(_paired(mas5, tr)) if "dice" in mas5 else ("-", "-")
        total = tr["seconds_per_subject"] + (prep or 0.0)
        lines += [
            "",
            f"`ltnet-mas-trained-k`: the same, but each subject segmented by a model trained with several "
            f"atlases: per fold of the test set ({' / '.join(', '.join(f) for f in tr['folds'])}), "
            f"ladder-full-s0's model fine-tuned for {tr['fold_steps']} steps (`ltnet train --init`) with "
            "the chosen atlas and the other fold's subjects as atlases (a pair drawn per step) and the "
            "fold's own images as the unlabelled pool, so a scored subject's labels were never read. "
            f"With 5 atlases: mean Dice **{_f(tr['dice']['summary']['mean'])}**, {d} against jlf-5 "
            f"({i} better), {d0} against ltnet-mas-5 ({i0}), {_f(total, 1)} s a subject with the affine "
            f"(1/{jlf5['seconds_per_subject'] / total:.1f} of jlf-5's); training "
            f"{_time(tr['train_seconds'])} in all (ladder-full-s0's included).",
        ]
    lines += ["", "![Mean Dice against seconds per subject](figures/multi_atlas.png)"]
    return lines + fusion_screen_section()


def fusion_screen_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """Issue 32's screen of fusion rules (``bench.investigations.fusion_screen``): mean Dice of each
    rule and setting for k = 2 and 5, per number of adaptation steps."""
    files = sorted((screen_dir / "fusion").glob("adapt*.json"))
    recs = [json.loads(f.read_text()) for f in files]
    if not recs:
        return []
    lines = [
        "",
        "### Fusion rules and settings (screen)",
        "",
        "`python -m bench.investigations.fusion_screen`: the `ltnet-mas-k` atlases and model, each field "
        "adapted for N steps, fused on the 2 mm working grid by each rule (`local:r:b`: window radius r, "
        "exponent b; `local` is `local:2:2`, the default) and scored in native space. Each row is the mean "
        "Dice over the six subjects. Chosen by this screen on the test subjects themselves, so a gain "
        "of 0.001 is not a reason to change the default; the rows above use `local:2:2`.",
        "",
        "| adaptation steps | rule | k = 2 | k = 5 |",
        "| --- | --- | --- | --- |",
    ]
    for rec in sorted(recs, key=lambda r: r["adapt"]):
        variants = dict.fromkeys(key.split("/", 1)[1] for key in rec["mean_dice"])
        for v in variants:
            cells = [_f(rec["mean_dice"].get(f"k{k}/{v}")) for k in (2, 5)]
            lines.append(f"| {rec['adapt']} | {v} | {cells[0]} | {cells[1]} |")
    return lines


def syn_iterations_section(rows: dict, screen_dir: Path = SCREEN_DIR) -> list[str]:
    """``bench/investigations/syn_fine_iterations.py``: SyN at 1 mm with iterations at its finest
    level, on some subjects, beside the syn-1mm row and segment's default for the same subjects."""
    recs = [json.loads(f.read_text()) for f in sorted((screen_dir / "syn").glob("*.json"))]
    default = rows.get("default", {}).get("dice", {}).get("subjects", {})
    if not recs:
        return []
    lines = [
        "",
        "`python -m bench.investigations.syn_fine_iterations`: the same SyN with iterations at its "
        "1 mm level too, on some subjects (it takes longer; Dice scored as the rows):",
        "",
        "| subject | reg_iterations | SyN Dice | s | syn-1mm row (40, 20, 0) | ltnet default |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in recs:
        its = ", ".join(map(str, r["reg_iterations"]))
        for n, v in r["subjects"].items():
            ours = default.get(n, {}).get("mean")
            cells = [f"({its})", _f(v["dice"]), _f(v["seconds"], 0), _f(v["default_dice"]), _f(ours)]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def refine_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """``bench/investigations/fine_refinement.py``: segment's refinement settings on ladder-full-s0."""
    recs = [json.loads(f.read_text()) for f in sorted((screen_dir / "refine").glob("*.json"))]
    if not recs:
        return []
    base = next((r for r in recs if r["setting"] == "a0-r0@work"), None)
    lines = [
        "",
        "### Refinement settings (issue 31)",
        "",
        "`python -m bench.investigations.fine_refinement SETTING ...`: ladder-full-s0's model through "
        "`segment_files`, six subjects, native-space Dice. Setting `a<N>-r<M>@<mm>`: N field-adaptation "
        "steps on the 2 mm working grid, then M refinement steps at <mm> (`work`: none, labels from "
        "the 2 mm atlas), Adam rate 0.1 voxel unless `-lr`. Seconds: segment's per subject "
        "(preparation excluded), median; each screen ran alone on the 2 cores. The rows' seconds are "
        "means over the subjects of a `ltnet segment` process, a few seconds more. Δ: paired against "
        "`a0-r0@work` (the network alone).",
        "",
        "| setting | mean Dice | Δ vs network alone | improved | s / subject |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sorted(recs, key=lambda r: r["seconds_per_subject"]):
        d, i = ("-", "-")
        if base:
            b = base["per_subject"]
            d, i = _delta_cells([v - b[k] for k, v in r["per_subject"].items() if k in b])
        lines.append(
            f"| {r['setting']} | {_f(r['mean_dice'])} | {d} | {i} | {_f(r['seconds_per_subject'], 1)} |"
        )
    return lines


def affine_cost_section(screen_dir: Path = SCREEN_DIR) -> list[str]:
    """``bench/investigations/affine_cost.py``: the preparation's ANTs affine against AffineFast."""
    f = screen_dir / "affine" / "affine_cost.json"
    if not f.exists():
        return []
    kinds = json.loads(f.read_text())["kinds"]
    lines = [
        "",
        "### A cheaper affine preparation? (issue 31)",
        "",
        "`python -m bench.investigations.affine_cost`: ANTs' `Affine` (the preparation's) and "
        "`AffineFast` (its two finest levels skipped) of each test scan to the atlas on the 2 mm grid; "
        "seconds, and how far each moves the atlas's labelled voxels from the pinned transform "
        "(a rerun of `Affine` shows ANTs' own run-to-run spread). Medians over the six subjects.",
        "",
        "| ANTs transform | s / subject | RMS distance to the pinned transform (mm) | worst subject (mm) |",
        "| --- | --- | --- | --- |",
    ]
    for kind, k in kinds.items():
        worst = max(r["rms_mm"] for r in k["subjects"].values())
        lines.append(
            f"| {kind} | {_f(k['median_seconds'], 1)} | {_f(k['median_rms_mm'], 2)} | {_f(worst, 2)} |"
        )
    return lines


def _ladder(bench, rows: dict, prefix: str, title: str) -> list[str]:
    """The ladder rows named ``<prefix><variant>-s<seed>``: mean over seeds, paired steps."""
    p = bench.p
    ladder = {v: [rows[f"{prefix}{v}-s{s}"] for s in p.seeds if f"{prefix}{v}-s{s}" in rows] for v in LADDER}
    if not any(ladder.values()):
        return []
    lines = [
        "",
        f"## {title}",
        "",
        "Mean Dice over the seeds run; Δ: paired difference from the row it builds on (the row "
        "above, but the cycle baseline for + L_anat, which the paper adds instead of L_trans), per "
        "subject and seed, mean (std) over the pairs, and how many pairs improved."
        + (
            " ltnet's default recipe weighs L_GAN and the cycle family 0, so that every middle row "
            "would train as its full model does: only the two ends are run with it."
            if prefix == "ladder-"
            else ""
        ),
        "",
        "| variant | seeds | mean Dice | Δ vs the row it builds on | improved | paper (CANDI, %) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    crossed = 0
    for v in LADDER:
        rs = ladder[v]
        if not rs:
            lines.append(f"| {LADDER_NAMES[v]} | 0 | - | - | - | {PAPER.get(v, '-')} |")
            continue
        mean = _claim_mean(rows, f"{prefix}{v}", p.seeds)
        delta, improved = "-", "-"
        diffs, across = [], False
        for s in p.seeds if v in LADDER_BASE else ():
            a, b = rows.get(f"{prefix}{LADDER_BASE[v]}-s{s}"), rows.get(f"{prefix}{v}-s{s}")
            if a and b:
                diffs += _paired(a, b)
                across |= a.get("prep") != b.get("prep")
        if diffs:
            delta, improved = _delta_cells(diffs)
            delta += " ‡" if across else ""
            crossed += across
        lines.append(
            f"| {LADDER_NAMES[v]} | {len(rs)} | {_f(mean)} | {delta} | {improved} | {PAPER.get(v, '-')} |"
        )
    if crossed:
        lines += ["", _across_preparations(bench.store)]
    return lines


def _end_dpf(row: dict) -> float | None:
    """Mean |dpF| (voxels) over the run's last 10 steps, median; None for a row without it."""
    return (row.get("last_10_steps_median") or {}).get("dpF_abs")


def versus_voxelmorph(rows: dict, seeds) -> list[str]:
    """Issue 30's goal, per seed: ``ladder-full`` (both directions, the default inference) and its
    ``forward-`` twin (G_F's field alone) against ``ladder-voxelmorph``, paired per subject; and
    ``ladder-full`` against ``rerun-ladder-voxelmorph`` (VoxelMorph trained again by the same code
    as ``ladder-full``), where measured, since a code change alone shifts a row by about 0.002."""
    done = [s for s in seeds if f"ladder-full-s{s}" in rows and f"ladder-voxelmorph-s{s}" in rows]
    if not done:
        return []
    lines = [
        "",
        "### LT-Net against its VoxelMorph row, per seed (issue 30's goal: +0.02, 5 of 6 subjects better)",
        "",
        "Default recipe, cpu profile. Δ: paired per subject, mean (std), and subjects improved. "
        "VoxelMorph, same code: the VoxelMorph row trained again by the code that trained LT-Net's "
        "(`rerun-ladder-voxelmorph-s<seed>`), and LT-Net's Δ against it. |dpF|: "
        "mean displacement of G_F's field over the last 10 training steps (median), voxels.",
        "",
        "| seed | VoxelMorph | LT-Net, both directions | Δ | improved | G_F alone | Δ | improved "
        "| VoxelMorph, same code | Δ LT-Net | improved "
        "| \\|dpF\\| LT-Net | \\|dpF\\| VoxelMorph | goal met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in done:
        vxm, full = f"ladder-voxelmorph-s{s}", f"ladder-full-s{s}"
        fwd = f"forward-{full}" if f"forward-{full}" in rows else None
        d_full = _paired(rows[vxm], rows[full])
        cells_full = _delta_cells(d_full)
        cells_fwd = _delta_cells(_paired(rows[vxm], rows[fwd])) if fwd else ("-", "-")
        again = f"rerun-{vxm}" if f"rerun-{vxm}" in rows else None
        cells_again = _delta_cells(_paired(rows[again], rows[full])) if again else ("-", "-")
        met = float(np.mean(d_full)) >= 0.02 and sum(d > 0 for d in d_full) >= len(d_full) - 1
        lines.append(
            f"| {s} | {_f(_mean(rows, vxm))} | {_f(_mean(rows, full))} | {' | '.join(cells_full)} | "
            f"{_f(_mean(rows, fwd) if fwd else None)} | {' | '.join(cells_fwd)} | "
            f"{_f(_mean(rows, again) if again else None)} | {' | '.join(cells_again)} | "
            f"{_f(_end_dpf(rows[full]), 2)} | {_f(_end_dpf(rows[vxm]), 2)} | {'yes' if met else 'no'} |"
        )
    return lines + _candidates(rows, seeds)


def _candidates(rows: dict, seeds) -> list[str]:
    """Rows of candidate recipes (``<prefix>ladder-<variant>-s<seed>``), paired per subject against
    the default recipe's row of the same variant and seed, and against the VoxelMorph row trained
    alike: the candidate's own ``<prefix>ladder-voxelmorph-s<seed>`` where the candidate has one
    (its change acts on VoxelMorph too), else the default's."""
    found = [
        (p, v, s)
        for p, c in CANDIDATES.items()
        for v in c.variants
        for s in seeds
        if all(n in rows for n in (f"{p}ladder-{v}-s{s}", f"ladder-{v}-s{s}", f"ladder-voxelmorph-s{s}"))
    ]
    if not found:
        return []
    lines = [
        "",
        "Candidate recipes, the default's ingredients with the changes in 'adds' (both directions at "
        "inference; "
        "G_F alone: the row `forward-<row>`, where measured). Δ vs default: against the default "
        "recipe's row of the same variant and seed. Δ vs VoxelMorph: against the VoxelMorph row "
        "trained with the same change where the candidate has one, else the default's:",
        "",
        "| row | adds | Dice | Δ vs default | improved | VoxelMorph row | Δ vs VoxelMorph | improved "
        "| G_F alone | Δ vs VoxelMorph | improved | \\|dpF\\| | s / step |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p, v, s in found:
        row, base = f"{p}ladder-{v}-s{s}", f"ladder-{v}-s{s}"
        twin = f"{p}ladder-voxelmorph-s{s}"
        vxm = twin if twin in rows else f"ladder-voxelmorph-s{s}"
        versus = ["-", "-", "-"] if v == "voxelmorph" else [vxm, *_delta_cells(_paired(rows[vxm], rows[row]))]
        fwd = rows.get(f"forward-{row}")
        alone = (
            [_f(_mean(rows, f"forward-{row}")), *_delta_cells(_paired(rows[vxm], fwd))] if fwd else ["-"] * 3
        )
        lines.append(
            f"| {row} | {CANDIDATES[p].says} | {_f(_mean(rows, row))} | "
            f"{' | '.join(_delta_cells(_paired(rows[base], rows[row])))} | {' | '.join(versus)} | "
            f"{' | '.join(alone)} | {_f(_end_dpf(rows[row]), 2)} | "
            f"{_f(rows[row].get('seconds_per_step'), 2)} |"
        )
    return lines


def _claim_mean(rows: dict, name: str, seeds) -> float | None:
    """A row's mean Dice; for a ladder variant named without its seed (``ladder-full``), the mean
    over the seeds run."""
    if "ladder-" in name and name not in rows:
        means = [m for s in seeds if (m := _mean(rows, f"{name}-s{s}")) is not None]
        return float(np.mean(means)) if means else None
    return _mean(rows, name)


def _inductive(rows: dict, p) -> list[str]:
    """The full model with the test images in its pool (the ladder's row) and without them, paired
    per subject and seed."""
    pairs = [(f"ladder-full-s{s}", f"inductive-s{s}") for s in p.seeds]
    pairs = [(a, b) for a, b in pairs if _mean(rows, a) is not None and _mean(rows, b) is not None]
    if not pairs:
        return []
    out = [
        "",
        "## Test images in the pool or not (full LT-Net)",
        "",
        "Transductive: the ladder's full row, trained on the six test images. Inductive: each fold "
        "trained on a pool without its test subjects and scored on them only (the paper never "
        "trains on its test images). `ltnet train` leaves the atlas out of any pool, so a fold's "
        "pool listed below trains on its three images other than the atlas. Same atlas, steps, "
        "spacing and seed; Δ is inductive minus transductive per subject.",
        "",
        "| seed | transductive | inductive | Δ mean (std) | better inductive | training (both folds) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for a, b in pairs:
        delta, improved = _delta_cells(_paired(rows[a], rows[b]))
        out.append(
            f"| {rows[b].get('seed', '?')} | {_f(_mean(rows, a))} | {_f(_mean(rows, b))} "
            f"| {delta} | {improved} | {_time(rows[b].get('train_seconds'))} |"
        )
    folds = rows[pairs[0][1]].get("folds")
    if folds:
        out += ["", "Pools: " + "; ".join(f"fold {k}: {', '.join(f)}" for k, f in enumerate(folds)) + "."]
    return out


def _dataaug_check(root: Path, da: dict) -> dict | None:
    """``bench/investigations/dataaug_check.py``'s figures, when they were measured on this row's model."""
    path = root / "dataaug_check.json"
    if not path.exists():
        return None
    check = json.loads(path.read_text())
    return check if check.get("row_finished") == da.get("finished") else None


def _dataaug_stages(da: dict) -> list[str]:
    """DataAug's stage times and the budget it was given."""
    st, sec = da["steps"], da.get("stage_seconds", {})
    names = {
        "spatial_forward": f"spatial model atlas to image (voxelmorph), {st['spatial']} steps",
        "spatial_backward": f"spatial model image to atlas, {st['spatial']} steps",
        "appearance": f"appearance model, {st['appearance']} steps",
        "segmenter": f"2D U-Net segmenter on synthesised examples, {st['segmenter']} steps",
    }
    return [
        "",
        f"Given the full LT-Net row's training time ({_time(da['budget_seconds'])}) as its budget "
        "(`--time-budget`); the segmenter trains until it is spent. Pool, atlas, spacing and test set "
        "as the LT-Net rows.",
        "",
        "| stage | time |",
        "| --- | --- |",
        *[f"| {names[k]} | {_time(v)} |" for k, v in sec.items() if k in names],
        f"| total | {_time(da['train_seconds'])} |",
    ]


def _dataaug(rows: dict, p, root: Path) -> list[str]:
    """DataAug's stages and budget, and the paper's ordering VoxelMorph < DataAug < LT-Net."""
    da = rows.get("dataaug")
    if not (da and "dice" in da):
        return []
    out = ["", "## DataAug (`ltnet dataaug train`, then `dataaug segment`)"]
    if "steps" in da:
        out += _dataaug_stages(da)
    check = _dataaug_check(root, da)
    if check:
        # the atlas's own scan, when in the pool, is no test of carrying over to real scans
        im = {k: v for k, v in check["images"].items() if k != check.get("atlas_name")}
        real = [v["real_vs_transfer"] for v in im.values()]
        synth = [v["synthesised"] for v in im.values()]
        out += [
            "",
            "`bench/investigations/dataaug_check.py` on this model, on the working grid: "
            f"the segmenter scores "
            f"{check['atlas']:.3f} on the atlas and {min(synth):.3f} to {max(synth):.3f} on each other pool "
            f"image's synthesised example, but {min(real):.3f} to {max(real):.3f} on those real scans "
            "against the same transferred labels (agreement, not truth): the gap between the examples "
            f"it learned and real scans. The appearance change leaves {check['residual_pooled']:.2f} of "
            "the absolute atlas-to-image difference unexplained, pooled over the pool (1: no better "
            "than no change).",
        ]
    elif da.get("appearance_residual") is not None:
        out += [
            "",
            f"`appearance_residual` in the run's config.json: {da['appearance_residual']:.2f} "
            "(0: the appearance change explains the atlas-to-image difference; 1: no better than no "
            "change). Run `bench/investigations/dataaug_check.py` for the per-image figures.",
        ]
    seed = p.seeds[0]
    order = [
        ("VoxelMorph", _mean(rows, f"ladder-voxelmorph-s{seed}")),
        ("DataAug", _mean(rows, "dataaug")),
        ("LT-Net", _mean(rows, f"ladder-full-s{seed}")),
    ]
    if all(v is not None for _, v in order):
        measured = " < ".join(f"{n} ({v:.3f})" for n, v in sorted(order, key=lambda nv: nv[1]))
        holds = order[0][1] < order[1][1] < order[2][1]
        d = _subject_means(da)
        paired = []
        for name, row in (("VoxelMorph", f"ladder-voxelmorph-s{seed}"), ("LT-Net", f"ladder-full-s{seed}")):
            o = _subject_means(rows[row])
            diff = np.array([d[k] - o[k] for k in d if k in o])
            paired.append(
                f"{diff.mean():+.3f} (std {diff.std():.3f}, higher in {int((diff > 0).sum())}/{diff.size} "
                f"subjects) against {name}"
            )
        out += [
            "",
            f"The paper's ordering, VoxelMorph < DataAug < LT-Net (76.0 < 80.4 < 82.3 on CANDI), "
            f"**{'holds' if holds else 'does not hold'}** here: {measured} (seed {seed}). DataAug's "
            f"paired per-subject difference: {'; '.join(paired)}.",
        ]
    return out


def _warm_starts(rows: dict, root: Path) -> list[str]:
    """``bench/investigations/warm_start_check.py``'s runs: a variant trained on from a finished
    row's model."""
    out = []
    for path in sorted((root / "experiments").glob("warm-*.json")):
        w = json.loads(path.read_text())
        init = rows.get(w["init"])
        if not (init and "dice" in init) or w.get("init_finished") not in (None, init.get("finished")):
            continue  # started from a model the row no longer holds
        before = init.get("last_100_steps_median")
        if before is None:
            continue  # a recovered record: the init row's losses were not kept
        after, d0, d1 = w["last_100_steps_median"], init["dice"]["summary"]["mean"], w["dice"]["summary"]
        out += [
            "",
            f"Started from the `{w['init']}` row's trained model instead "
            "(`bench/investigations/warm_start_check.py`), "
            f"{w['steps']} steps of the `{w['variant']}` variant took the mean Dice from {d0:.3f} to "
            f"**{d1['mean']:.3f}** ({d1['std']:.3f}); median L_smooth over the last 100 steps "
            f"{after['smooth']:.4f} (against {before['smooth']:.4f} at the end of `{w['init']}`), L_sim "
            f"{after['sim']:.3f} (against {before['sim']:.3f}).",
        ]
        if d1["mean"] < d0 - 0.02 and after["smooth"] > before["smooth"]:
            out[-1] += (
                " The field did not shrink to the identity, it moved off the anatomy: against a "
                "discriminator that keeps learning, the added terms undo a good registration."
            )
    return out


def _disc_probe(rows: dict, root: Path) -> list[str]:
    """``bench/investigations/disc_probe.py``'s figures for the rows whose models it probed
    (same ``finished``)."""
    path = root / "disc_probe.json"
    if not path.exists():
        return []
    probe = json.loads(path.read_text())
    cur = {k: v for k, v in probe.items() if k in rows and v.get("row_finished") == rows[k].get("finished")}
    gan = {k: v for k, v in cur.items() if "mean" in v}
    if not gan:
        return []
    out = [
        "",
        "## What the rows with L_GAN learned (`bench/investigations/disc_probe.py`)",
        "",
        "Mean patch score of each row's discriminator (1: real, 0: synthetic) over the six non-atlas "
        "pool images, on the working grid; field dependence: mean over image pairs of "
        "|dpF(y_i) - dpF(y_j)| over mean |dpF| (0: one field for every image).",
        "",
        "| row | y | y moved 1 voxel | y moved 2 voxels | y mirrored L-R | atlas (a pool image) "
        "| atlas o own field | atlas o VoxelMorph field | mean abs dpF (voxels) | field dependence |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k, v in gan.items():
        m = v["mean"]
        out.append(
            f"| {k} | {m['y']:.2f} | {m['y_roll1']:.2f} | {m['y_roll2']:.2f} | {m['y_mirror_lr']:.2f} "
            f"| {v['atlas']:.2f} | {m['x_own_field']:.2f} | {m['x_reference_field']:.2f} "
            f"| {v['field_mean_abs_voxels']:.3f} | {v['field_dependence']:.3f} |"
        )
    for k, v in cur.items():
        if "mean" not in v:
            out.append(
                f"| {k} (no L_GAN) | - | - | - | - | - | - | - | {v['field_mean_abs_voxels']:.3f} "
                f"| {v['field_dependence']:.3f} |"
            )
    # per row: does its own discriminator, and L_sim, prefer VoxelMorph's field to its own?
    prefer = all(
        v["mean"]["x_reference_field"] > v["mean"]["x_own_field"]
        and v["mean"]["sim_reference_field"] < v["mean"]["sim_own_field"]
        for v in gan.values()
    )
    sim_own = min(v["mean"]["sim_own_field"] for v in gan.values())
    sim_ref = max(v["mean"]["sim_reference_field"] for v in gan.values())
    out += [
        "",
        f"L_sim of the atlas warped by the rows' own fields: {sim_own:.3f} at best; by VoxelMorph's "
        f"field: {sim_ref:.3f} at worst (lower is better).",
    ]
    if prefer:
        out += [
            "",
            "Every discriminator scores the atlas warped by VoxelMorph's field as more real than the "
            "atlas warped by its own generator's field, and L_sim prefers VoxelMorph's field too: at "
            "the end of training both image terms, L_GAN and L_sim, would fall by registering, and the "
            "generators did not get there. (In the rows with the backward path, the cycle terms also "
            "favour the identity, which G_B inverts exactly: `bench/investigations/collapse_check.py`.)",
        ]
    atlas = max(v["atlas"] for v in gan.values())
    y = min(v["mean"]["y"] for v in gan.values())
    out += [
        "",
        f"The discriminators score the atlas's own scan, which is one of the seven real pool images, "
        f"at most {atlas:.2f} against at least {y:.2f} for the others: they recognise the atlas's "
        "anatomy, which no smooth warp removes, rather than judging realness. With seven images "
        "they partly memorise the pool too: a real image moved by two voxels or mirrored scores "
        "lower (table).",
    ]
    return out


def _trajectories(rows: dict, order: list[str]) -> list[str]:
    """L_sim over each stretch of every learned row that kept its trajectory: had it stopped moving?"""
    have = [n for n in order if rows.get(n, {}).get("loss_trajectory")]
    if not have:
        return []
    stretches = [t["to_step"] for t in rows[have[0]]["loss_trajectory"]]
    out = [
        "",
        "### Had each learned row stopped moving? L_sim (-LNCC), median over each sixth of its run",
        "",
        "| row | "
        + " | ".join(f"to {s}" for s in stretches)
        + " | last sixth minus the one before | last 10 steps |",
        "| --- " * (len(stretches) + 3) + "|",
    ]
    moving, excursions = [], []
    for n in have:
        sims = [t["sim"] for t in rows[n]["loss_trajectory"]]
        change = sims[-1] - sims[-2]
        if change < -0.005:
            moving.append(n)
        last = rows[n]["last_10_steps_median"]["sim"]
        if last - sims[-1] > 0.02:
            excursions.append(f"`{n}` ({last:.3f} against {sims[-1]:.3f})")
        out.append(f"| {n} | " + " | ".join(f"{v:.3f}" for v in sims) + f" | {change:+.3f} | {_f(last)} |")
    out += [
        "",
        "Still improving at the end of the budget (L_sim fell by more than 0.005 over the last sixth): "
        + (", ".join(f"`{n}`" for n in moving) if moving else "none")
        + ". Such a row is, if anything, scored below what more steps would give it; a row whose "
        "L_sim is flat from the first sixth gained nothing from the steps after it.",
        "",
        "The weights scored are those of the last step. Rows whose last 10 steps sat more than 0.02 "
        "above the median of their last sixth, so were scored in an excursion of the adversarial "
        "game rather than at its usual state: " + (", ".join(excursions) if excursions else "none") + ".",
    ]
    return out


def _qc_verdict(ci: list[float]) -> str:
    if ci[1] < 0:
        return "Here the cycle error does flag the structures with the lower Dice."
    if ci[0] > 0:
        return (
            "Here the whole interval is positive: the structures with the larger cycle error scored "
            "higher, so the cycle error does not flag the worse ones on this model."
        )
    return "Here the interval holds 0: no evidence either way."


def _extras(rows: dict, p, root: Path) -> list[str]:
    out: list[str] = _dataaug(rows, p, root)
    qc = rows.get("qc")
    if qc and "spearman_rho" in qc:
        out += [
            "",
            "## Quality control from the cycle (`segment --save-qc`)",
            "",
            f"Spearman's rho between a structure's mean cycle error (mm) and its real Dice, pooled over "
            f"{qc['pairs']} (subject x structure) pairs of the full model: **{qc['spearman_rho']:+.3f}** "
            f"(95 % bootstrap interval {qc['ci95'][0]:+.3f} to {qc['ci95'][1]:+.3f}). Negative: a larger "
            f"error goes with a lower Dice. {_qc_verdict(qc['ci95'])}",
        ]
    adapt = sorted(
        (n for n in rows if n.startswith("adapt-") and "dice" in rows[n]),
        key=lambda n: (n.split("-")[1], n.split("-")[3:], int(n.split("-")[2])),
    )
    if adapt:
        from ltnet.adapt import DEFAULT_LR

        base = _mean(rows, f"ladder-full-s{p.seeds[0]}")
        syn = rows.get("syn")
        out += [
            "",
            "## Test-time adaptation (`segment --adapt-steps N`) of the full model",
            "",
            "| mode | N | learning rate | mean Dice | s / subject |",
            "| --- | --- | --- | --- | --- |",
        ]

        def secs(name: str) -> str:
            return _f(rows[name].get("seconds_per_subject"), 1)

        if base is not None:
            out.append(f"| none | 0 | - | {_f(base)} | {secs(f'ladder-full-s{p.seeds[0]}')} |")
        for n in adapt:
            _, mode, steps, *lr = n.split("-")
            rate = lr[0].removeprefix("lr") if lr else f"{DEFAULT_LR[mode]:g} (default)"
            out.append(f"| {mode} | {steps} | {rate} | {_f(_mean(rows, n))} | {secs(n)} |")
        if syn and "dice" in syn:
            out.append(f"| ANTs SyN (for scale) | - | - | {_f(_mean(rows, 'syn'))} | {secs('syn')} |")
        prep = rows.get("affine", {}).get("prep_seconds_per_subject")
        if prep is not None:
            out += [
                "",
                f"Seconds per subject exclude preparation (affine alignment and resampling, {prep:.1f} s a "
                "subject in the row `affine`); SyN's include its own affine stage.",
            ]
    seed = p.seeds[0]
    pairs = [
        (v, f"ladder-{v}-s{seed}", f"diffeo-s{seed}" if v == "full" else f"diffeo-{v}-s{seed}")
        for v in LADDER
    ]
    pairs = [(v, a, b) for v, a, b in pairs if b in rows and "dice" in rows[b]]
    if pairs:
        out += [
            "",
            "## Diffeomorphic option (`train --integration-steps 7`)",
            "",
            "| model | mean Dice | folding (% det <= 0, mean over subjects) | s / training step (median) |",
            "| --- | --- | --- | --- |",
        ]
        for v, plain, diffeo in pairs:
            shown = [(plain, "plain displacement"), (diffeo, "7 scaling-and-squaring steps, both directions")]
            if v == "full":
                shown.append((f"forward-{diffeo}", "7 scaling-and-squaring steps, G_F's field alone"))
            for name, how in shown:
                if name in rows and "dice" in rows[name]:
                    r = rows[name]
                    out.append(
                        f"| {LADDER_NAMES[v]}, {how} | {_f(_mean(rows, name))} | {_f(_folding(r), 4)} "
                        f"| {_f(r.get('seconds_per_step'), 2)} |"
                    )
        out += [
            "",
            "Both directions of a diffeomorphic model are averaged in their velocities, exp((vF - vR) / 2), "
            "since 2026-12-08; before, segment averaged the two displacements as for a plain model "
            "(full LT-Net, seed 0: mean Dice 0.790, folding 0.0729 %; the row `diffeo-s0` as "
            "committed at f574122).",
        ]
    out += _disc_probe(rows, root) + _warm_starts(rows, root)
    out += _inductive(rows, p)
    # the paper's claims, each checked against what was measured; ladder rows: mean over the seeds
    claims = [
        ("LT-Net beats VoxelMorph", "ladder-full", "ladder-voxelmorph"),
        ("LT-Net beats DataAug", "ladder-full", "dataaug"),
        ("DataAug beats VoxelMorph", "dataaug", "ladder-voxelmorph"),
        ("L_GAN improves on VoxelMorph", "ladder-gan", "ladder-voxelmorph"),
        ("the cycle baseline beats VoxelMorph", "ladder-cycle", "ladder-voxelmorph"),
        ("L_trans improves on the cycle baseline", "ladder-trans", "ladder-cycle"),
        ("L_anat improves on the cycle baseline", "ladder-anat", "ladder-cycle"),
        ("L_trans + L_anat improves on L_trans alone", "ladder-trans-anat", "ladder-trans"),
        ("L_trans + L_anat improves on L_anat alone", "ladder-trans-anat", "ladder-anat"),
        ("L_diff (LT-Net) improves on L_trans + L_anat", "ladder-full", "ladder-trans-anat"),
        ("LT-Net beats the cycle baseline", "ladder-full", "ladder-cycle"),
        ("LT-Net beats single-atlas SyN", "ladder-full", "syn"),
        ("LT-Net beats the best multi-atlas fusion", "ladder-full", "jlf-5"),
    ]
    checked = [(c, _claim_mean(rows, a, p.seeds), _claim_mean(rows, b, p.seeds)) for c, a, b in claims]
    checked = [(c, a, b) for c, a, b in checked if a is not None and b is not None]
    upper = _upper_bound(rows, p.seeds)
    if checked or upper:
        out += ["", "## The paper's claims on this data", ""]
        out.append(
            f"A claim holds where the first mean Dice is at least {CLAIM_MARGIN} above the second; a "
            "smaller gain is not shown (the paper's smallest ladder step is 0.002, its others 0.005 to "
            "0.03; here six subjects). A ladder row's figure is its mean over the seeds run."
        )
        out.append("")
        for c, a, b in checked:
            verdict = "holds" if a - b >= CLAIM_MARGIN else "not shown" if a > b else "does not hold"
            out.append(f"- {c}: {_f(a)} against {_f(b)}: **{verdict}**.")
        out += upper
    return out


def _upper_bound(rows: dict, seeds) -> list[str]:
    """The claim that LT-Net reaches 95 % of the supervised U-Net. While the U-Net row is partial,
    a provisional figure over the subjects whose folds are done, each subject's LT-Net Dice being
    its mean over the seeds run."""
    names = [f"ladder-full-s{s}" for s in seeds]
    full = [rows[n] for n in names if _mean(rows, n) is not None]
    if not full:
        return []
    if _mean(rows, "unet") is not None:
        unet, done = _subject_means(rows["unet"]), ""
    else:
        parts = rows.get("unet.partial", {}).get("parts", {})
        unet = {k: v for part in parts.values() for k, v in _subject_means(part).items()}
        done = f", provisional: {len(unet)} fold(s) of the U-Net done ({', '.join(unet)})"
    per_seed = [_subject_means(r) for r in full]
    subjects = [k for k in unet if all(k in m for m in per_seed)]
    if not subjects:
        return []
    a = float(np.mean([np.mean([m[k] for m in per_seed]) for k in subjects]))
    b = float(np.mean([unet[k] for k in subjects]))
    verdict = "holds" if a >= 0.95 * b else "does not hold"
    return [
        f"- LT-Net reaches 95 % of the supervised upper bound{done}: {a / b * 100:.1f} % "
        f"({_f(a)} / {_f(b)} on {len(subjects)} subject(s)): **{verdict}**."
    ]

"""bench.results_md on a small fixture of row records (no data, no training)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from bench.accuracy import PROFILES
from bench.results_md import render


def _row(mean: float, subjects: dict[str, float], **extra) -> dict:
    values = list(subjects.values())
    summary = {"mean": mean, "std": 0.01, "min": min(values), "max": max(values)}
    per_subject = {k: {"mean": v} for k, v in subjects.items()}
    return {"dice": {"summary": summary, "subjects": per_subject}, "seconds_per_subject": 2.0, **extra}


@pytest.fixture
def rows() -> dict[str, dict]:
    names = ["s1", "s2", "s3"]
    return {
        "affine": _row(0.70, dict(zip(names, (0.69, 0.70, 0.71), strict=True))),
        "ladder-voxelmorph-s0": _row(
            0.75, dict(zip(names, (0.74, 0.75, 0.76), strict=True)), train_seconds=60
        ),
        "ladder-gan-s0": _row(0.78, dict(zip(names, (0.78, 0.77, 0.79), strict=True)), train_seconds=120),
    }


def test_render_lists_every_row_with_its_mean(rows, tmp_path):
    text, data = render(SimpleNamespace(name="cpu", p=PROFILES["cpu"], store=tmp_path), rows, list(rows))
    for name, r in rows.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {name} |"))
        assert f"{r['dice']['summary']['mean']:.3f}" in line
    assert set(data["rows"]) == set(rows)
    json.dumps(data)  # RESULTS.json must serialise


def test_render_pairs_the_ladder_per_subject(rows, tmp_path):
    text, _ = render(SimpleNamespace(name="cpu", p=PROFILES["cpu"], store=tmp_path), rows, list(rows))
    ladder = text[text.index("## The ablation ladder") :]
    # + L_GAN builds on VoxelMorph: +0.04, +0.02, +0.03 -> mean +0.030, 3 of 3 subjects improved
    gan = next(ln for ln in ladder.splitlines() if ln.startswith("| + L_GAN"))
    assert re.search(r"\+0\.030", gan) and "3/3" in gan, gan


def test_loss_medians_skip_what_only_some_steps_log():
    from bench.accuracy import loss_medians

    log = [{"step": s, "sim": -0.1 * s, **({"grad_dpF/sim": 1.0} if s % 2 else {})} for s in range(1, 6)]
    assert loss_medians(log) == {"sim": pytest.approx(-0.3)}


def test_versus_syn_1mm_pairs_and_adds_the_preparation(rows):
    from bench.results_md import versus_syn_1mm

    names = ["s1", "s2", "s3"]
    rows["syn-1mm"] = _row(0.80, dict(zip(names, (0.80, 0.79, 0.81), strict=True)))
    rows["syn-1mm"]["seconds_per_subject"] = 120.0
    rows["default"] = _row(0.82, dict(zip(names, (0.82, 0.80, 0.80), strict=True)))  # +.02 +.01 -.01
    lines = versus_syn_1mm(rows, prep=10.0)
    line = next(ln for ln in lines if ln.startswith("| default |"))
    assert "+0.007" in line and "2/3" in line, line
    assert "| 12.0 | 1/10.0 |" in line, line  # 2 s of segment + 10 s of preparation
    assert versus_syn_1mm({k: v for k, v in rows.items() if k != "syn-1mm"}, prep=10.0) == []


def test_syn_iterations_section_sets_each_subject_beside_the_row_and_ltnet(rows, tmp_path):
    from bench.results_md import syn_iterations_section

    (tmp_path / "syn").mkdir()
    rec = {
        "reg_iterations": [40, 20, 10],
        "subjects": {"s1": {"dice": 0.83, "seconds": 400.0, "default_dice": 0.8}},
    }
    (tmp_path / "syn" / "40x20x10.json").write_text(json.dumps(rec))
    rows["default"] = _row(0.85, {"s1": 0.851})
    line = next(ln for ln in syn_iterations_section(rows, tmp_path) if ln.startswith("| s1 |"))
    assert line == "| s1 | (40, 20, 10) | 0.830 | 400 | 0.800 | 0.851 |"
    assert syn_iterations_section(rows, tmp_path / "none") == []


def test_versus_voxelmorph_pairs_per_seed_and_says_whether_the_goal_is_met():
    from bench.results_md import versus_voxelmorph

    names = ["s1", "s2", "s3"]
    vxm = _row(0.75, dict(zip(names, (0.74, 0.75, 0.76), strict=True)), last_10_steps_median={"dpF_abs": 0.6})
    rows = {
        "ladder-voxelmorph-s0": vxm,
        # +0.03 on every subject: the goal (+0.02, all but one subject better) is met
        "ladder-full-s0": _row(0.78, dict(zip(names, (0.77, 0.78, 0.79), strict=True))),
        "ladder-voxelmorph-s1": vxm,
        # +0.02, +0.03, -0.01: mean +0.013, short of +0.02
        "ladder-full-s1": _row(0.763, dict(zip(names, (0.76, 0.78, 0.75), strict=True))),
    }
    assert versus_voxelmorph({}, (0, 1)) == []
    lines = versus_voxelmorph(rows, (0, 1))
    s0 = next(ln for ln in lines if ln.startswith("| 0 |"))
    s1 = next(ln for ln in lines if ln.startswith("| 1 |"))
    assert "+0.030" in s0 and "3/3" in s0 and s0.endswith("| 0.60 | yes |"), s0
    assert "+0.013" in s1 and "2/3" in s1 and s1.endswith("| no |"), s1
    assert "| - | - | - | - | 0.60 |" in s0, s0  # no same-code VoxelMorph row yet
    # VoxelMorph trained again by LT-Net's code: LT-Net paired against it too (+0.01 on each)
    rows["rerun-ladder-voxelmorph-s0"] = _row(0.77, dict(zip(names, (0.76, 0.77, 0.78), strict=True)))
    s0 = next(ln for ln in versus_voxelmorph(rows, (0, 1)) if ln.startswith("| 0 |"))
    assert "| 0.770 | +0.010 (0.000) | 3/3 | - | 0.60 |" in s0 and s0.endswith("| yes |"), s0
    del rows["rerun-ladder-voxelmorph-s0"]
    assert not any(ln.startswith("| sym-") for ln in lines)
    # a candidate recipe: paired against the default's full row and against VoxelMorph
    rows["cyc001-sym-ladder-full-s1"] = _row(0.77, dict(zip(names, (0.77, 0.79, 0.75), strict=True)))
    head = "| cyc001-sym-ladder-full-s1 |"
    cand = next(ln for ln in versus_voxelmorph(rows, (0, 1)) if ln.startswith(head))
    cells = "| 0.770 | +0.007 (0.005) | 2/3 | ladder-voxelmorph-s1 | +0.020 (0.022) | 2/3 | - | - | - |"
    assert cells in cand, cand
    # and its G_F alone (forward-<row>), where measured, against VoxelMorph
    rows["forward-cyc001-sym-ladder-full-s1"] = _row(0.74, dict(zip(names, (0.73, 0.74, 0.75), strict=True)))
    head = "| cyc001-sym-ladder-full-s1 |"
    cand = next(ln for ln in versus_voxelmorph(rows, (0, 1)) if ln.startswith(head))
    assert "| 2/3 | 0.740 | -0.010 (0.000) | 0/3 |" in cand, cand  # -0.01 on each
    # a candidate that also trains VoxelMorph: its full row meets that twin, the twin meets the default's
    rows["lra-ladder-full-s0"] = _row(0.79, dict(zip(names, (0.78, 0.79, 0.80), strict=True)))
    rows["lra-ladder-voxelmorph-s0"] = _row(0.76, dict(zip(names, (0.75, 0.76, 0.77), strict=True)))
    lines = versus_voxelmorph(rows, (0, 1))
    full = next(ln for ln in lines if ln.startswith("| lra-ladder-full-s0 |"))
    assert "| +0.010 (0.000) | 3/3 | lra-ladder-voxelmorph-s0 | +0.030 (0.000) | 3/3 |" in full, full
    twin = next(ln for ln in lines if ln.startswith("| lra-ladder-voxelmorph-s0 |"))
    assert "| 0.760 | +0.010 (0.000) | 3/3 | - | - | - |" in twin, twin


def test_warm_start_screens_are_paired_against_the_model_they_start_from(tmp_path):
    from bench.results_md import warm_start_section

    def split(values):
        sub = dict(zip(["s1", "s2", "s3"], values, strict=True))
        return {"subjects": sub, "mean": sum(values) / 3}

    (tmp_path / "symmetric").mkdir()
    start = {
        "forward": split([0.70, 0.70, 0.70]),
        "backward_inverted": split([0.7] * 3),
        "symmetric": split([0.70, 0.71, 0.72]),
    }
    (tmp_path / "symmetric" / "start-run.json").write_text(json.dumps(start))
    rec = {
        "tag": "w",
        "init": "/runs/start-run",
        "config": {"variant": "full", "steps": 200, "lr": 2e-4, "cycle_scale": 0.0, "symmetric_sim": 1.0},
        "dice": {**split([0.71, 0.69, 0.73]), "dpF_mean_abs": 0.5},  # G_F: +0.01, -0.01, +0.03
    }
    (tmp_path / "w.json").write_text(json.dumps(rec))
    assert warm_start_section(tmp_path / "none") == []
    line = next(ln for ln in warm_start_section(tmp_path) if ln.startswith("| w |"))
    assert line.startswith("| w | full | start-run (0.700; 0.710) | 200 | 0.0002 | 0.0 | 1.0 |"), line
    assert line.endswith("| 0.710 | +0.010 (0.016) | 2/3 | - | - | - | 0.50 |"), line
    # with both directions measured on the screen's model, the mean is paired against the start's
    after = {**start, "symmetric": split([0.72, 0.72, 0.71])}  # +0.02, +0.01, -0.01
    (tmp_path / "symmetric" / "w.json").write_text(json.dumps(after))
    line = next(ln for ln in warm_start_section(tmp_path) if ln.startswith("| w |"))
    assert "| 0.717 | +0.007 (0.012) | 2/3 | 0.50 |" in line, line
    # a second arm from the same start is set against the first
    rec2 = {**rec, "tag": "x", "dice": {**split([0.70, 0.70, 0.70]), "dpF_mean_abs": 0.4}}
    (tmp_path / "x.json").write_text(json.dumps(rec2))
    assert "- w − x: +0.010 (0.016), 2/3 subjects better" in warm_start_section(tmp_path)
    # a start that is itself a screen (no backward network: G_F alone)
    vxm = {"tag": "v", "config": {"variant": "voxelmorph"}, "dice": split([0.69, 0.70, 0.71])}
    (tmp_path / "v.json").write_text(json.dumps(vxm))
    warm = {**rec, "tag": "wv", "init": "/screens/v", "config": {**rec["config"], "variant": "voxelmorph"}}
    (tmp_path / "wv.json").write_text(json.dumps(warm))
    line = next(ln for ln in warm_start_section(tmp_path) if ln.startswith("| wv |"))
    assert line.startswith("| wv | voxelmorph | v (0.700) | 200 | 0.0002 | - | - |"), line
    assert "| 0.710 | +0.010 (0.014) | 2/3 | - | - | - |" in line, line  # +0.02, -0.01, +0.02


def test_rows_measured_on_an_earlier_base_model_are_marked():
    from bench.results_md import on_an_older_base

    rows = {
        "ladder-full-s0": {"finished": "2026-12-07 19:00:00"},
        "qc": {"finished": "2026-12-03 15:58:37"},
        "adapt-field-25": {"finished": "2026-12-07 20:00:00"},
        "ltnet-mas-trained-2": {"finished": "2026-12-03 19:09:53"},
        "syn": {"finished": "2026-12-01 10:00:00"},
        "paper-qc": {"finished": "2026-12-03 15:58:37"},
        "paper-ladder-full-s0": {"finished": "2026-12-02 10:00:00"},
    }
    assert on_an_older_base("qc", rows) and on_an_older_base("ltnet-mas-trained-2", rows)
    assert not on_an_older_base("adapt-field-25", rows)  # measured after its base
    assert not on_an_older_base("syn", rows)  # builds on no model
    assert not on_an_older_base("paper-qc", rows)  # its own recipe's base is older


def test_the_diffeomorphic_section_shows_g_f_alone_beside_the_full_model(tmp_path):
    from types import SimpleNamespace

    from bench.results_md import _extras

    names = ["s1", "s2", "s3"]
    rows = {
        "ladder-full-s0": _row(0.79, dict(zip(names, (0.78, 0.79, 0.80), strict=True))),
        "diffeo-s0": _row(0.78, dict(zip(names, (0.77, 0.78, 0.79), strict=True)), seconds_per_step=1.2),
    }
    p = SimpleNamespace(seeds=(0, 1))
    lines = [ln for ln in _extras(rows, p, tmp_path) if ln.startswith("| + L_diff: LT-Net")]
    assert lines == [
        "| + L_diff: LT-Net, plain displacement | 0.790 | - | - |",
        "| + L_diff: LT-Net, 7 scaling-and-squaring steps, both directions | 0.780 | - | 1.20 |",
    ], lines
    rows["forward-diffeo-s0"] = _row(0.775, dict(zip(names, (0.77, 0.775, 0.78), strict=True)))
    lines = [ln for ln in _extras(rows, p, tmp_path) if ln.startswith("| + L_diff: LT-Net")]
    alone = "| + L_diff: LT-Net, 7 scaling-and-squaring steps, G_F's field alone | 0.775 | - | - |"
    assert lines[-1] == alone, lines

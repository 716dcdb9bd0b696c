import json

import nibabel as nib
import numpy as np
import pytest

from ltnet.errors import LtnetError
from ltnet.evaluate import Evaluation, dice_per_label, evaluate_files, write_evaluation


def test_dice_of_identical_maps_is_one():
    lab = np.random.default_rng(0).integers(0, 5, (10, 10, 10))
    np.testing.assert_allclose(dice_per_label(lab, lab, [1, 2, 3, 4]), 1.0)


def test_dice_matches_a_hand_computation():
    a = np.zeros((6, 6, 6), int)
    b = np.zeros((6, 6, 6), int)
    a[:3] = 2  # 108 voxels
    b[1:4] = 2  # 108 voxels, 72 shared
    a[5, 5, 5] = 17
    d = dice_per_label(a, b, [2, 17, 41], chunk=1)
    assert d[0] == pytest.approx(2 * 72 / 216)
    assert d[1] != d[1]  # NaN: the truth lacks label 17
    assert d[2] != d[2]


def test_dice_accepts_big_endian_arrays():
    lab = np.random.default_rng(0).integers(0, 3, (6, 6, 6)).astype(">i4")  # as MGZ stores them
    np.testing.assert_allclose(dice_per_label(lab, lab.astype("<i2"), [1, 2]), 1.0)


def test_summary_and_merged_table():
    ev = Evaluation((2, 41, 14))
    ev.dice = {"s1": np.array([0.8, 0.6, 0.7]), "s2": np.array([0.9, 0.7, np.nan])}
    s = ev.summary()
    assert s["mean"] == pytest.approx((0.7 + 0.8) / 2) and s["min"] == pytest.approx(0.7)
    assert s["std"] == pytest.approx(0.05)
    m = ev.merged()
    assert m["Cerebral-White-Matter"]["mean"] == pytest.approx((0.7 + 0.8) / 2)
    assert m["3rd-Ventricle"]["mean"] == pytest.approx(0.7)
    assert "Hippocampus" not in m


def test_json_round_trip_and_merge_of_disjoint_subjects():
    ev = Evaluation((2, 41, 14))
    ev.dice = {"s1": np.array([0.8, 0.6, 0.7]), "s2": np.array([0.9, 0.7, np.nan])}
    ev.hd95 = {"s1": np.array([1.0, 2.0, 3.0]), "s2": np.array([2.0, np.nan, 4.0])}
    ev.records = {"s2": {"deformation": {"folding_percent": 0.5}}}
    back = Evaluation.from_json(json.loads(json.dumps(ev.to_json())))
    assert back.to_json() == ev.to_json()
    # scored one subject at a time, merged: the same summary and tables as scored together
    one = Evaluation(ev.labels, {"s1": ev.dice["s1"]}, {"s1": ev.hd95["s1"]})
    two = Evaluation(ev.labels, {"s2": ev.dice["s2"]}, {"s2": ev.hd95["s2"]}, dict(ev.records))
    merged = Evaluation.from_json(one.to_json()).merge(Evaluation.from_json(two.to_json()))
    assert merged.to_json() == ev.to_json()
    with pytest.raises(ValueError, match="scored twice"):
        merged.merge(one)
    with pytest.raises(ValueError, match="different labels"):
        merged.merge(Evaluation((2,)))


def _save(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data.astype(np.int16), np.eye(4)), path)


def test_evaluate_files_pairs_by_subject_and_writes_tables(tmp_path):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, (8, 8, 8)) * 2  # labels 0, 2, 4
    for s in ("a", "b"):
        _save(tmp_path / "truth" / f"{s}.nii.gz", truth)
        _save(tmp_path / "pred" / f"{s}_labels.nii.gz", truth if s == "a" else np.roll(truth, 1, 0))
    res = evaluate_files(
        sorted((tmp_path / "pred").iterdir()), sorted((tmp_path / "truth").iterdir()), [2, 4]
    )
    assert res.subject_means()["a"] == 1.0 and res.subject_means()["b"] < 1.0
    files = write_evaluation(res, tmp_path / "out")
    assert [f.name for f in files] == ["dice.csv", "dice.json", "dice.md"]
    js = json.loads(files[1].read_text())
    assert js["subjects"]["a"]["dice"]["2"] == 1.0
    assert "| a | 1.000 |" in files[2].read_text()


def test_unpaired_file_is_an_error(tmp_path):
    lab = np.ones((4, 4, 4))
    _save(tmp_path / "p" / "a_labels.nii.gz", lab)
    _save(tmp_path / "t" / "b.nii.gz", lab)
    with pytest.raises(LtnetError, match=r"a_labels.nii.gz.*b.nii.gz"):
        evaluate_files([tmp_path / "p" / "a_labels.nii.gz"], [tmp_path / "t" / "b.nii.gz"])


def test_hd95_known_answers():
    from ltnet.evaluate import hd95_per_label

    a = np.zeros((10, 10, 12), np.int32)
    a[2, 2, 2] = 5
    b = np.zeros_like(a)
    b[2, 2, 6] = 5
    # two single voxels 4 apart along the third axis, at 2 mm there: 8 mm
    assert hd95_per_label(a, b, [5], (1.0, 1.0, 2.0))[0] == pytest.approx(8.0)
    cube = np.zeros((12, 12, 12), np.int32)
    cube[3:9, 3:9, 3:9] = 2
    assert hd95_per_label(cube, cube, [2, 7], (1.0, 1.0, 1.0)).tolist()[0] == 0.0
    assert np.isnan(hd95_per_label(cube, cube, [2, 7], (1.0, 1.0, 1.0))[1])  # absent label


def test_hd95_prints_no_warning_of_monai_s_own():
    import warnings

    from ltnet.evaluate import hd95_per_label

    cube = np.zeros((12, 12, 12), np.int32)
    cube[3:9, 3:9, 3:9] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MONAI 1.5-1.6 warns of an argument it passes itself
        assert hd95_per_label(cube, np.roll(cube, 1, 0), [2], (1.0, 1.0, 1.0))[0] == pytest.approx(1.0)

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.atlas import Atlas, label_one_hot, load_atlas, select_atlas
from ltnet.errors import LtnetError


def test_one_hot_known_answer():
    lab = torch.tensor([[[0, 2], [17, 5]]])  # 5 is not an atlas label: background
    oh = label_one_hot(lab, [0, 2, 17])
    assert oh.shape == (3, 1, 2, 2)
    assert oh.sum(0).eq(1).all()
    assert oh[1, 0, 0, 1] == 1 and oh[2, 0, 1, 0] == 1 and oh[0, 0, 1, 1] == 1


def test_atlas_state_round_trip():
    a = Atlas.from_arrays(np.random.rand(4, 4, 4), np.arange(64).reshape(4, 4, 4) % 3 + 1, np.eye(4))
    assert a.label_ids == (0, 1, 2, 3)
    b = Atlas.from_state(a.to_state())
    assert b.label_ids == a.label_ids and np.array_equal(b.labels, a.labels)


def _save(p, data, dtype=np.float32):
    nib.save(nib.Nifti1Image(data.astype(dtype), np.eye(4)), p)
    return p


def test_select_atlas_picks_the_image_nearest_the_average(tmp_path):
    rng = np.random.default_rng(0)
    a, c = rng.random((8, 8, 8)) + 0.1, rng.random((8, 8, 8)) + 0.1
    paths = [
        _save(tmp_path / "a.nii", a),
        _save(tmp_path / "b.nii", (a + c) / 2),
        _save(tmp_path / "c.nii", c),
    ]
    best, scores = select_atlas(paths)
    assert best == paths[1] and len(scores) == 3


def test_atlas_labels_on_another_grid_are_refused(tmp_path):
    img = _save(tmp_path / "i.nii", np.ones((8, 8, 8)))
    lab = _save(tmp_path / "l.nii", np.ones((8, 8, 7)), np.int16)
    with pytest.raises(LtnetError, match=r"l.nii: label map grid"):
        load_atlas(img, lab)


def test_atlas_without_labels_is_refused(tmp_path):
    img = _save(tmp_path / "i.nii", np.ones((8, 8, 8)))
    lab = _save(tmp_path / "l.nii", np.zeros((8, 8, 8)), np.int16)
    with pytest.raises(LtnetError, match="no labels"):
        load_atlas(img, lab)


def test_select_atlas_aligns_candidates_that_are_not_on_one_grid(toy_data, tmp_path):
    """A copy of the first candidate stored 8 mm away in world space: alignment must undo the
    offset, so the copy scores as the original does (unaligned, it would not overlap)."""
    images, _ = toy_data
    first = nib.load(images[0])
    affine = first.affine.copy()
    affine[:3, 3] += [8.0, -8.0, 4.0]
    copy = tmp_path / "copy.nii.gz"
    nii = nib.Nifti1Image(np.asarray(first.dataobj), affine)
    nii.header.set_xyzt_units("mm")
    nib.save(nii, copy)
    _, scores = select_atlas([*images, copy], spacing=2.0)
    assert scores[copy] == pytest.approx(scores[images[0]], abs=0.01)
    assert min(scores.values()) > 0.8


def test_atlas_files_pair_by_subject_name_in_the_images_order(tmp_path):
    from ltnet.atlas import pair_atlas_files

    imgs = [tmp_path / "images" / f"{n}.nii.gz" for n in ("sub-02", "sub-01")]
    labs = [tmp_path / "labels" / f"{n}.nii.gz" for n in ("sub-01", "sub-02")]
    pairs = pair_atlas_files(imgs, labs)
    assert [(n, i.name, la.name) for n, i, la in pairs] == [
        ("sub-02", "sub-02.nii.gz", "sub-02.nii.gz"),
        ("sub-01", "sub-01.nii.gz", "sub-01.nii.gz"),
    ]
    # one atlas pairs as given, whatever its files are called
    assert pair_atlas_files([imgs[0]], [tmp_path / "aseg.mgz"])[0][2].name == "aseg.mgz"
    with pytest.raises(LtnetError, match=r"sub-01.nii.gz: no label map with the subject name 'sub-01'"):
        pair_atlas_files(imgs, labs[1:])
    with pytest.raises(LtnetError, match="a label map without an atlas image"):
        pair_atlas_files(imgs, [*labs, tmp_path / "labels" / "sub-03.nii.gz"])


def test_several_atlases_on_one_grid(toy_data):
    from ltnet.atlas import load_atlases
    from ltnet.config import PrepConfig
    from ltnet.io import load_labels

    images, labels = toy_data
    atlases = load_atlases(images[:3], labels[:3], PrepConfig(prealigned=True))
    assert [a.name for a in atlases] == ["sub-01", "sub-02", "sub-03"]
    for a, lab in zip(atlases, labels[:3], strict=True):
        assert a.shape == atlases[0].shape and np.allclose(a.affine, atlases[0].affine)
        assert np.array_equal(a.labels, load_labels(lab).data)  # prealigned: the labels as they are
    # a model's atlas given again is recognised, whatever the others
    again = load_atlases(images[1:3], labels[1:3], PrepConfig(prealigned=True), reference=atlases[1])
    assert again[0].labels is atlases[1].labels and again[1].name == "sub-03"

import gzip

import nibabel as nib
import numpy as np
import pytest

from ltnet.errors import LtnetError
from ltnet.io import load_image, load_labels, save_like, subject_names
from ltnet.io.atomic import atomic_path


def _affine():
    a = np.array([[0, 0, 1.5, -90], [-0.9, 0, 0, 100], [0, 1.2, 0, -80], [0, 0, 0, 1]], float)
    return a


def test_nifti_round_trip_keeps_affine_header_and_dtype(tmp_path):
    src = tmp_path / "img.nii.gz"
    img = nib.Nifti1Image(np.random.rand(6, 7, 8).astype(np.float32), _affine())
    img.header.set_qform(_affine(), code=1)
    img.header.set_sform(_affine(), code=2)
    nib.save(img, src)
    vol = load_image(src)
    assert vol.shape == (6, 7, 8) and vol.spacing == pytest.approx((0.9, 1.2, 1.5))
    out = save_like(np.ones((6, 7, 8), np.uint8), vol, tmp_path / "o.nii.gz")
    back = nib.load(out)
    np.testing.assert_array_equal(back.affine, nib.load(src).affine)
    assert back.get_data_dtype() == np.uint8
    assert int(back.header["qform_code"]) == 1 and int(back.header["sform_code"]) == 2


def test_large_label_ids_survive_a_float32_file(tmp_path):
    lab = np.zeros((5, 5, 5), np.float32)
    lab[1, 1, 1], lab[2, 2, 2] = 2035, 1028
    nib.save(nib.Nifti1Image(lab, np.eye(4)), tmp_path / "l.nii.gz")
    got = load_labels(tmp_path / "l.nii.gz").data
    assert got.dtype == np.int32 and set(np.unique(got)) == {0, 1028, 2035}


def test_mgz_round_trip(tmp_path):
    src = tmp_path / "a.mgz"
    nib.save(nib.MGHImage(np.arange(216, dtype=np.float32).reshape(6, 6, 6) + 1, _affine()), src)
    vol = load_image(src)
    out = save_like(vol.data.astype(np.int32), vol, tmp_path / "b.mgz")
    back = nib.load(out)
    assert isinstance(back, nib.MGHImage)
    np.testing.assert_allclose(back.header.get_vox2ras(), nib.load(src).header.get_vox2ras())


def test_single_volume_4d_is_squeezed(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((4, 5, 6, 1), np.float32), np.eye(4)), tmp_path / "a.nii")
    assert load_image(tmp_path / "a.nii").shape == (4, 5, 6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("hello"), "cannot read"),
        (lambda p: p.write_bytes(gzip.compress(b"x" * 10)), "cannot read"),
        (lambda p: nib.save(nib.Nifti1Image(np.ones((4, 5, 6, 2), np.float32), np.eye(4)), p), "3D volume"),
        (lambda p: nib.save(nib.Nifti1Image(np.ones((4, 5, 1), np.float32), np.eye(4)), p), "3D volume"),
        (lambda p: nib.save(nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)), p), "NaN"),
        (lambda p: nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), p), "all zeros"),
    ],
)
def test_bad_images_give_one_clear_error(tmp_path, make, message):
    p = tmp_path / "bad.nii.gz"
    make(p)
    with pytest.raises(LtnetError, match=message) as e:
        load_image(p)
    assert str(p) in str(e.value)


def test_truncated_gzip_is_refused(tmp_path):
    p = tmp_path / "t.nii.gz"
    nib.save(nib.Nifti1Image(np.random.rand(20, 20, 20).astype(np.float32), np.eye(4)), p)
    p.write_bytes(p.read_bytes()[:2000])
    with pytest.raises(LtnetError, match="cannot read"):
        load_image(p)


def test_non_integer_labels_are_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.full((4, 4, 4), 0.5, np.float32), np.eye(4)), tmp_path / "l.nii.gz")
    with pytest.raises(LtnetError, match="non-integer"):
        load_labels(tmp_path / "l.nii.gz")


def test_wrong_extension_names_the_formats(tmp_path):
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(LtnetError, match=r"\.nii\.gz"):
        load_image(tmp_path / "x.txt")


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.nii.gz") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_subject_names():
    assert subject_names(["a/sub-01.nii.gz", "b/sub-02.mgz"]) == ["sub-01", "sub-02"]
    assert subject_names(["/d/sub-01/mri/brainmask.mgz", "/d/sub-02/mri/brainmask.mgz"]) == [
        "sub-01",
        "sub-02",
    ]
    assert subject_names(["x/sub-01_labels.nii.gz"], strip_suffix="_labels") == ["sub-01"]
    assert subject_names(["a/sub-01.nii.gz", "b/sub-01.mgz"]) == ["a", "b"]
    fs = ["/d/sub-02/brainmask.mgz", "/d/sub-03/brainmask.mgz", "/d/bert/brain.mgz"]
    assert subject_names(fs) == ["sub-02", "sub-03", "bert"]
    # folders not distinct: only the shared stems take their folder's name
    assert subject_names(["/x/a/t1.nii", "/y/a/t2.nii", "/y/b/t1.nii"]) == ["a", "t2", "b"]
    with pytest.raises(LtnetError, match="two inputs have the subject name 'sub-01'"):
        subject_names(["x/sub-01/brain.nii.gz", "y/sub-01/brain.nii.gz"])

import numpy as np
import pytest

from ltnet.io.freesurfer import read_xfm
from ltnet.io.resample import box_affine, resample


def test_same_grid_is_identity():
    data = np.random.rand(6, 7, 8).astype(np.float32)
    a = np.diag([2.0, 1.5, 1.0, 1.0])
    np.testing.assert_allclose(resample(data, a, a, data.shape), data, atol=1e-6)


def test_known_shift_and_labels_stay_exact():
    lab = np.random.default_rng(0).integers(0, 3000, (6, 6, 6)).astype(np.int32)
    src = np.eye(4)
    dst = np.eye(4)
    dst[0, 3] = 2.0  # destination voxel 0 lies at source voxel 2
    out = resample(lab, src, dst, (4, 6, 6), order=0)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, lab[2:])


def test_world_transform_is_applied():
    data = np.zeros((5, 5, 5), np.float32)
    data[3, 2, 2] = 1.0
    move = np.eye(4)
    move[0, 3] = 1.0  # destination world x maps to source world x + 1
    out = resample(data, np.eye(4), np.eye(4), (5, 5, 5), world_to_src_world=move)
    assert out[2, 2, 2] == pytest.approx(1.0)


def test_box_affine_centre():
    a = box_affine(2.0, (80, 96, 80), (0.0, -18.0, 15.0))
    centre = a @ np.array([39.5, 47.5, 39.5, 1.0])
    np.testing.assert_allclose(centre[:3], [0, -18, 15])


def test_read_xfm(tmp_path):
    p = tmp_path / "t.xfm"
    p.write_text(
        "MNI Transform File\n\nTransform_Type = Linear;\nLinear_Transform =\n"
        " 1.1 0 0 -2\n 0 0.9 0.1 3\n 0 -0.1 1 4;\n"
    )
    m = read_xfm(p)
    assert m.shape == (4, 4) and m[0, 0] == 1.1 and m[2, 3] == 4 and m[3, 3] == 1

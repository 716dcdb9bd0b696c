"""Native space: preparation onto the working grid and back, on synthetic scans with known geometry."""

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.atlas import Atlas, load_atlas
from ltnet.cache import PrepCache
from ltnet.config import PrepConfig
from ltnet.evaluate import dice_per_label
from ltnet.io import Volume, load_image, load_labels
from ltnet.prepare import prepare_scan, signal_ml, warn_if_skull_differs, working_grid
from ltnet.registration import affine_register, ants_matrix_to_ras
from ltnet.segment import to_native
from ltnet.toy import template_labels


def rotation(deg: float, axis: int) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(4)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def oblique_affine() -> np.ndarray:
    """LIA-like axes, anisotropic voxels (1.2 x 1.0 x 1.5 mm), rotated 20 degrees."""
    lia = np.array([[-1.2, 0, 0, 0], [0, 0, 1.5, 0], [0, -1.0, 0, 0], [0, 0, 0, 1]], float)
    a = rotation(20, 2) @ lia
    a[:3, 3] = -a[:3, :3] @ (np.array([56, 64, 48]) - 1) / 2 + [3, -5, 2]
    return a


@pytest.fixture(scope="module")
def oblique_scan(tmp_path_factory):
    d = tmp_path_factory.mktemp("oblique")
    lab = template_labels((56, 64, 48))
    rng = np.random.default_rng(0)
    img = np.where(lab > 0, 0.3 + 0.1 * (lab % 7), 0).astype(np.float32) + rng.normal(0, 0.01, lab.shape) * (
        lab > 0
    )
    for name, data, dt in (("img.nii.gz", img, np.float32), ("lab.nii.gz", lab, np.int16)):
        nii = nib.Nifti1Image(data.astype(dt), oblique_affine())
        nii.header.set_xyzt_units("mm")
        nib.save(nii, d / name)
    return d / "img.nii.gz", d / "lab.nii.gz"


def test_working_grid_is_a_ras_box_centred_on_the_labels(oblique_scan):
    lab = load_labels(oblique_scan[1])
    affine, shape = working_grid(lab, 2.0, (80, 96, 80))
    assert shape == (40, 48, 40)
    np.testing.assert_allclose(affine[:3, :3], np.eye(3) * 2)
    idx = np.argwhere(lab.data > 0)
    centre = lab.affine @ np.r_[(idx.min(0) + idx.max(0)) / 2, 1]
    np.testing.assert_allclose(affine @ np.r_[(np.array(shape) - 1) / 2, 1], centre)


@pytest.mark.parametrize("transform", [np.eye(4), rotation(7, 0) @ rotation(-5, 1)])
def test_native_round_trip_is_identity_within_a_voxel(oblique_scan, transform):
    """Atlas = the scan's labels on the working grid, seen through a known map T; carried back
    to the scan's own oblique grid through T they must land where they started."""
    img, lab = load_image(oblique_scan[0]), load_labels(oblique_scan[1])
    affine, shape = working_grid(lab, 1.0, (80, 96, 80))
    from ltnet.io.resample import resample, resample_labels

    # working voxel v sits at world A_w v, which is the scan's world point T A_w v
    atlas = Atlas.from_arrays(
        resample(img.data, img.affine, affine, shape, transform),
        resample_labels(lab.data, lab.affine, affine, shape, transform),
        affine,
    )
    back = to_native(atlas, None, transform, img).labels
    assert back.shape == lab.shape
    ids = [i for i in np.unique(lab.data) if i]
    assert np.nanmin(dice_per_label(back, lab.data, ids)) > 0.9
    # every disagreement is a boundary voxel: the right label lies within one voxel
    wrong = np.argwhere(back != lab.data)
    assert len(wrong) < 0.05 * (lab.data > 0).sum()
    padded = np.pad(lab.data, 1, constant_values=-1)
    for x, y, z in wrong[:: max(1, len(wrong) // 200)]:
        assert back[x, y, z] in padded[x : x + 3, y : y + 3, z : z + 3]


def test_field_points_to_the_atlas_world_point(oblique_scan):
    img, lab = load_image(oblique_scan[0]), load_labels(oblique_scan[1])
    affine, shape = working_grid(lab, 2.0, (80, 96, 80))
    atlas = Atlas.from_arrays(np.zeros(shape, np.float32) + 0.5, np.ones(shape, np.int32), affine)
    shift = np.eye(4)
    shift[:3, 3] = [4.0, -2.0, 1.0]  # working world -> scan world
    dp = torch.zeros(1, 3, *shape)
    dp[:, 0] = 1.5  # 1.5 voxels = 3 mm along x in the atlas
    seg = to_native(atlas, dp, shift, img, with_extras=True)
    # voxel at world q: atlas point = inverse shift (q - s), then + 3 mm along x
    centre = tuple(n // 2 for n in img.shape)
    np.testing.assert_allclose(seg.field_mm[centre], [-4.0 + 3.0, 2.0, -1.0], atol=1e-3)


def test_ants_matrix_conversion_known_answer():
    # LPS translation (1, 2, 3) is RAS translation (-1, -2, 3)
    m = ants_matrix_to_ras(np.r_[np.eye(3).ravel(), [1, 2, 3]], np.array([10.0, 20, 30]))
    np.testing.assert_allclose(
        m, np.array([[1, 0, 0, -1], [0, 1, 0, -2], [0, 0, 1, 3], [0, 0, 0, 1]]), atol=1e-12
    )


def test_affine_registration_recovers_a_known_shift(oblique_scan):
    img = load_image(oblique_scan[0])
    moved = img.affine.copy()
    moved[:3, 3] += [6.0, -4.0, 5.0]  # the same voxels placed 6, -4, 5 mm away
    t = affine_register(img.data, img.affine, img.data, moved)
    # a fixed world point p shows the same anatomy as the moved scan's point p + (6, -4, 5)
    np.testing.assert_allclose(t[:3, 3], [6.0, -4.0, 5.0], atol=0.6)
    np.testing.assert_allclose(t[:3, :3], np.eye(3), atol=0.03)


def test_prepare_scan_is_cached_and_aligns(oblique_scan, tmp_path, monkeypatch):
    atlas = load_atlas(*oblique_scan, PrepConfig(spacing=2.0, box_mm=(96, 112, 96)))
    vol = load_image(oblique_scan[0])
    cache = PrepCache(tmp_path / "cache")
    first = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache)
    np.testing.assert_allclose(first.transform, np.eye(4), atol=0.6)  # the scan is the atlas
    assert np.corrcoef(first.image.ravel(), atlas.image.ravel())[0, 1] > 0.95
    import ltnet.registration

    def fail(*a, **k):
        raise AssertionError("registration ran again despite the cache")

    monkeypatch.setattr(ltnet.registration, "affine_register", fail)
    again = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache)
    np.testing.assert_array_equal(again.image, first.image)


def test_prepare_scan_with_a_given_transform_skips_registration_and_pins_it(
    oblique_scan, tmp_path, monkeypatch
):
    atlas = load_atlas(*oblique_scan, PrepConfig(spacing=2.0, box_mm=(96, 112, 96)))
    vol = load_image(oblique_scan[0])
    first = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine)
    import ltnet.registration

    def fail(*a, **k):
        raise AssertionError("registration ran despite a given transform")

    monkeypatch.setattr(ltnet.registration, "affine_register", fail)
    cache = PrepCache(tmp_path / "cache")
    t = first.transform
    pinned = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache, transform=t)
    np.testing.assert_array_equal(pinned.transform, first.transform)
    np.testing.assert_array_equal(pinned.image, first.image)
    # cached under the scan's own key: a later call without the transform reuses it
    again = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache)
    np.testing.assert_array_equal(again.transform, first.transform)
    # another transform replaces a cached entry that disagrees with it
    shifted = first.transform.copy()
    shifted[0, 3] += 4.0
    moved = prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, cache=cache, transform=shifted)
    assert not np.array_equal(moved.image, first.image)
    with pytest.raises(ValueError, match="4 x 4"):
        prepare_scan(vol, atlas.image, atlas.labels, atlas.affine, transform=np.eye(3))


def test_signal_ml_known_answer(tmp_path):
    data = np.zeros((20, 20, 20), np.float32)
    data[:10, :10, :5] = 100.0  # 500 voxels of 2 x 2 x 1 mm = 2 mL
    data[15, 15, 15] = 2.0  # below 5 % of the 99th percentile: not signal
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 1.0, 1.0])), tmp_path / "s.nii")
    assert signal_ml(load_image(tmp_path / "s.nii")) == pytest.approx(2.0)


def test_skull_warning_fires_only_across_the_boundary():
    with pytest.warns(UserWarning, match="looks like it has skull"):
        warn_if_skull_differs("scan.nii", 2.0, 1.25)
    with pytest.warns(UserWarning, match="looks skull-stripped"):
        warn_if_skull_differs("scan.nii", 1.25, 2.1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_skull_differs("scan.nii", 1.3, 1.25)
        warn_if_skull_differs("scan.nii", 2.0, 2.1)


def test_volume_dataclass_spacing(oblique_scan):
    v: Volume = load_image(oblique_scan[0])
    assert v.spacing == pytest.approx((1.2, 1.0, 1.5))

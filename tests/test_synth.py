"""ltnet.synth: label ids kept, intensities drawn from the priors, deterministic with a seed."""

from __future__ import annotations

import numpy as np
import pytest

from ltnet.synth import BRAIN_LABELS, PRIOR_CLASS, Priors, SynthConfig, skull_strip, synthesize, to_grid

NO_BIAS = SynthConfig(bias_std=0.0, noise_std=0.0)


@pytest.fixture(scope="module")
def priors() -> Priors:
    return Priors.bundled()


def two_tissue_map(shape=(24, 24, 24)) -> np.ndarray:
    lab = np.zeros(shape, np.int32)
    lab[4:20, 4:20, 4:12] = 2  # white matter
    lab[4:20, 4:20, 12:20] = 3  # cortex
    return lab


def test_skull_strip_keeps_brain_ids_only():
    lab = np.array([0, 2, 3, 17, 24, 165, 502, 530, 258]).reshape(1, 3, 3)
    out = skull_strip(lab)
    assert out.tolist() == [[[0, 2, 3], [17, 24, 0], [0, 0, 0]]]
    assert set(BRAIN_LABELS) >= {2, 3, 4, 17, 24, 41, 42, 60}


def test_left_and_right_share_a_class():
    pairs = [(2, 41), (3, 42), (4, 43), (5, 44), (7, 46), (8, 47), (10, 49), (11, 50), (12, 51)]
    pairs += [(13, 52), (17, 53), (18, 54), (26, 58), (28, 60)]
    for left, right in pairs:
        assert PRIOR_CLASS[left] == PRIOR_CLASS[right], (left, right)


def test_each_label_is_constant_plus_gaussian_without_bias(priors):
    lab = two_tissue_map()
    img = synthesize(lab, priors, np.random.default_rng(3), NO_BIAS)
    assert img.shape == lab.shape and img.dtype == np.float32
    for label in (2, 3):
        v = img[lab == label]
        c = PRIOR_CLASS[label]
        # mean within 5 prior spreads of the prior's mean: the draw comes from that distribution
        assert abs(v.mean() - priors.means[0, c]) < 5 * priors.means[1, c] + 3 * v.std() / np.sqrt(v.size)


def test_class_means_follow_the_priors_over_many_draws(priors):
    lab = np.full((8, 8, 8), 2, np.int32)
    lab[4:] = 3
    draws = np.array(
        [
            [
                synthesize(lab, priors, np.random.default_rng(s), NO_BIAS)[lab == label].mean()
                for label in (2, 3)
            ]
            for s in range(300)
        ]
    )
    for j, label in enumerate((2, 3)):
        c = PRIOR_CLASS[label]
        # 300 draws: the sample mean is within 4 standard errors (prior spread and voxel noise)
        se = np.sqrt(priors.means[1, c] ** 2 + (priors.stds[0, c] ** 2) / 128) / np.sqrt(len(draws))
        assert abs(draws[:, j].mean() - priors.means[0, c]) < 4 * se
        assert draws[:, j].std() == pytest.approx(priors.means[1, c], rel=0.25)


def test_deterministic_with_a_seed(priors):
    lab = two_tissue_map()
    a = synthesize(lab, priors, np.random.default_rng(7))
    b = synthesize(lab, priors, np.random.default_rng(7))
    c = synthesize(lab, priors, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bias_field_changes_intensities_smoothly(priors):
    lab = np.full((16, 16, 16), 2, np.int32)
    cfg = SynthConfig(bias_std=0.3)
    biased = synthesize(lab, priors, np.random.default_rng(1), cfg)
    flat = synthesize(lab, priors, np.random.default_rng(1), SynthConfig(bias_std=0.0))
    ratio = biased / np.maximum(flat, 1e-3)
    assert ratio.std() > 0.01  # a real field
    # smooth: neighbouring voxels' factors correlate (voxel noise alone would give about 0)
    assert np.corrcoef(ratio[:-1].ravel(), ratio[1:].ravel())[0, 1] > 0.9


def test_unknown_label_is_an_error(priors):
    with pytest.raises(ValueError, match="502"):
        synthesize(np.full((4, 4, 4), 502), priors, np.random.default_rng(0))


def test_to_grid_averages_partial_volumes():
    # a 1 mm step edge seen on a 4 mm grid: the voxel that straddles it takes a value in between
    img = np.zeros((48, 32, 32), np.float32)
    img[16:] = 100.0
    src = np.eye(4)
    dst = np.diag([4.0, 4.0, 4.0, 1.0])
    dst[:3, 3] = [1.5, 13.5, 13.5]  # the 4 mm voxels lie far from the image's borders
    out = to_grid(img, src, dst, (8, 1, 1), None, np.random.default_rng(0), SynthConfig(noise_std=0.0))
    row = out[:, 0, 0]
    assert row[0] == pytest.approx(0.0, abs=1e-3) and row[-1] == pytest.approx(100.0, abs=1e-2)
    assert 5 < row[3] < 95 or 5 < row[4] < 95  # blurred edge
    assert np.all(np.diff(row) >= -1e-4)


def test_spread_scales_the_contrast_variation(priors):
    lab = np.full((8, 8, 8), 2, np.int32)
    lab[4:] = 3

    def contrast(spread, seed):
        img = synthesize(lab, priors, np.random.default_rng(seed), SynthConfig(spread=spread, bias_std=0.0))
        return img[lab == 2].mean() - img[lab == 3].mean()

    wide = np.std([contrast(1.0, s) for s in range(100)])
    narrow = np.std([contrast(0.2, s) for s in range(100)])
    assert 0.1 < narrow / wide < 0.4

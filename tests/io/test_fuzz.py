"""Property-based tests: whatever the file, ltnet reads it correctly or fails with its own error."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltnet.errors import LtnetError
from ltnet.evaluate import dice_per_label, evaluate_files
from ltnet.io import load_image, load_labels

DTYPES = ["uint8", "int8", "int16", "uint16", "int32", "int64", "float32", "float64", "complex64", "rgb"]
RGB = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
SPECIAL = [0.0, -1.0, 1e-30, 1e30, float("nan"), float("inf")]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def volumes(draw) -> tuple[np.ndarray, dict]:
    """An array of random shape and type, with a few random header fields and special values."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=5)))
    kind = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "rgb":
        data = np.zeros(shape, RGB)
        data["R"] = rng.integers(0, 255, shape)
    elif kind.startswith(("float", "complex")):
        data = (rng.normal(size=shape) * draw(st.sampled_from([1.0, 1e3, 1e40]))).astype(kind)
        if draw(st.booleans()) and data.size:
            data.flat[rng.integers(0, data.size)] = draw(st.sampled_from(SPECIAL))
    else:
        info = np.iinfo(kind)
        data = rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(kind)
    if draw(st.booleans()):
        data = np.zeros_like(data)
    header = {
        "zoom": draw(st.sampled_from([1.0, 0.5, 2.0, *SPECIAL])),
        "slope": draw(st.sampled_from([None, 1.0, 2.5, *SPECIAL])),
        "sform": draw(st.sampled_from([0, 1, 2, 4])),
        "shear": draw(st.sampled_from([0.0, 0.3, float("nan")])),
    }
    return data, header


def _nifti_bytes(data: np.ndarray, h: dict) -> bytes:
    affine = np.diag([h["zoom"], 1.0, 1.0, 1.0])
    affine[0, 1] = h["shear"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = nib.Nifti1Image(data, affine)
        img.header.set_sform(affine, code=h["sform"])
        if h["slope"] is not None:
            img.header["scl_slope"] = h["slope"]
        return img.to_bytes()


@st.composite
def files(draw) -> tuple[str, bytes]:
    """A .nii, .nii.gz or .mgz file's name and bytes, valid or damaged."""
    data, h = draw(volumes())
    fmt = draw(st.sampled_from([".nii", ".nii.gz", ".mgz"]))
    try:
        if fmt == ".mgz":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = nib.MGHImage(data, np.eye(4)).to_bytes()
        else:
            raw = _nifti_bytes(data, h)
    except Exception:  # what nibabel refuses to write: write a plain file (damaged below, maybe)
        raw = _nifti_bytes(
            np.ones((2, 2, 2), np.float32), {"zoom": 1.0, "slope": None, "sform": 1, "shear": 0.0}
        )
    if fmt.endswith(("gz", "mgz")):
        import gzip

        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
            f.write(raw)
        raw = buf.getvalue()
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "empty"]))
    if damage == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif damage == "flip" and raw:
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] = draw(st.integers(0, 255))
        raw = bytes(b)
    elif damage == "empty":
        raw = b""
    return fmt, raw


@FUZZ
@given(files())
def test_reader_reads_or_fails_with_ltnet_error(case):
    fmt, raw = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"scan{fmt}"
        path.write_bytes(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for reader in (load_image, load_labels):
                try:
                    vol = reader(path)
                except LtnetError as e:
                    assert str(path) in str(e) and "\n" not in str(e)
                    continue
                assert vol.data.ndim == 3 and min(vol.shape) >= 2
                assert np.isfinite(vol.affine).all()
                if reader is load_image:
                    assert vol.data.dtype == np.float32 and np.isfinite(vol.data).all() and vol.data.any()
                else:
                    assert vol.data.dtype == np.int32


@FUZZ
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
    n_labels=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["uint8", "int16", "int32", "float32"]),
)
def test_dice_is_in_unit_interval_or_nan(shape, n_labels, seed, dtype):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels + 1, shape).astype(dtype)
    pred = rng.integers(0, n_labels + 1, shape).astype(dtype)
    labels = list(range(1, n_labels + 2))  # one more than present: NaN where the truth lacks it
    d = dice_per_label(pred, truth, labels)
    assert d.shape == (len(labels),)
    ok = np.isnan(d) | ((d >= 0) & (d <= 1))
    assert ok.all()
    for i, lab in enumerate(labels):
        assert np.isnan(d[i]) == (not (truth == lab).any())
    np.testing.assert_allclose(dice_per_label(truth, truth, labels)[~np.isnan(d)], 1.0)


@FUZZ
@given(pred=files(), truth=files())
def test_evaluate_files_scores_or_fails_with_ltnet_error(pred, truth):
    with tempfile.TemporaryDirectory() as d:
        p, t = Path(d) / "pred", Path(d) / "truth"
        p.mkdir(), t.mkdir()
        (p / f"s1{pred[0]}").write_bytes(pred[1])
        (t / f"s1{truth[0]}").write_bytes(truth[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = evaluate_files([p / f"s1{pred[0]}"], [t / f"s1{truth[0]}"])
            except LtnetError as e:
                assert "\n" not in str(e)
                return
        values = np.asarray(list(result.subject_means().values()), dtype=float)
        assert (np.isnan(values) | ((values >= 0) & (values <= 1))).all()


def test_fuzz_strategies_cover_valid_files():
    """The strategies are not all-broken: a plain valid case reads."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ok.nii"
        path.write_bytes(
            _nifti_bytes(
                np.ones((3, 3, 3), np.float32), {"zoom": 1.0, "slope": None, "sform": 1, "shear": 0.0}
            )
        )
        assert load_image(path).shape == (3, 3, 3)


pytestmark = pytest.mark.filterwarnings("ignore")

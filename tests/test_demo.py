"""The bundled demo data (licence, size, one grid, real labels) and `ltnet demo` end to end."""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np

from ltnet.checkpoint import load_checkpoint
from ltnet.cli import main
from ltnet.demo import DEMO_DIR, demo_data
from ltnet.labels import EVAL_LABELS


def test_bundled_data_is_small_licensed_and_on_one_grid():
    total = sum(
        f.stat().st_size for f in DEMO_DIR.parent.rglob("*") if f.is_file() and "__pycache__" not in f.parts
    )
    assert total <= 5_000_000
    assert "Apache License" in (DEMO_DIR / "LICENSE-SynthSeg.txt").read_text()
    assert "SynthSeg" in (DEMO_DIR / "NOTICE.md").read_text()
    images, labels = demo_data()
    assert len(images) == 20
    ref = nib.load(images[0])
    for img, lab in zip(images, labels, strict=True):
        a, b = nib.load(img), nib.load(lab)
        assert (
            a.shape == ref.shape and np.allclose(a.affine, ref.affine) and np.allclose(b.affine, ref.affine)
        )
        assert a.get_data_dtype() == np.uint8
        ids = set(np.unique(np.asanyarray(b.dataobj)).tolist())
        assert set(EVAL_LABELS) <= ids  # every evaluation structure, real anatomy


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "1", "--quiet"]) == 0
    text = capsys.readouterr().out
    m = re.search(r"LT-Net (\d\.\d+), affine only (\d\.\d+)", text)
    assert m and 0.3 < float(m.group(2)) < 1.0 and 0.3 < float(m.group(1)) < 1.0
    page = out / "report.html"
    assert f"report: {page}" in text
    html = page.read_text()
    assert "demo-19" in html and "demo-20" in html and "affine only" in html
    # transductive: the demo fine-tunes on the two scans it segments, never on the atlas
    trained = [Path(p).name for p in load_checkpoint(out / "run")["image_paths"]]
    assert trained == ["demo-19.nii.gz", "demo-20.nii.gz"]
    # a second run into the same folder is refused, not mixed with the first
    assert main(["demo", "--out", str(out), "--steps", "1", "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err

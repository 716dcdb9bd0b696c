"""Shared fixtures: tiny synthetic volumes, and the real data beside the project (skipped if absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> tuple[list[Path], list[Path]]:
    """Four synthetic subjects, 32 x 32 x 32 at 2 mm, NIfTI: (image paths, label paths)."""
    from ltnet.toy import make_toy_dataset

    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n_subjects=4, shape=(32, 32, 32), seed=1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real brains of ../shared/data (or $LTNET_DATA); tests using it skip where it is absent."""
    if not (DATA_DIR / "brains" / "sub-01" / "brainmask.mgz").exists():
        pytest.skip(f"real data not found at {DATA_DIR} (set LTNET_DATA to its folder)")
    return DATA_DIR


def textured(shape=(1, 1, 24, 24, 24), seed: int = 0) -> torch.Tensor:
    """An image with texture in every 9^3 window (so LNCC(x, x) reaches -1 everywhere)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) + 0.1


def atlas_args(image: Path | str, labels: Path | str) -> list[str]:
    """The command line's atlas arguments."""
    return ["--atlas", str(image), "--atlas-labels", str(labels)]

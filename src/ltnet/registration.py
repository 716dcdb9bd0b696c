"""Affine pre-alignment with ANTsPy, returned as a plain 4 x 4 matrix in RAS world millimetres.

ANTs works in LPS; everything in ltnet is RAS (nibabel's convention), so the matrix is converted
once here and the rest of the code resamples through :func:`ltnet.io.resample.resample`.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ltnet.errors import LtnetError

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (its own inverse)


def to_ants(data: np.ndarray, affine: np.ndarray):
    """An ANTs image of (X, Y, Z) ``data`` placed by a RAS ``affine``."""
    import ants

    lps = _LPS @ affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    return ants.from_numpy(
        np.ascontiguousarray(data, dtype=np.float32),
        origin=[float(v) for v in lps[:3, 3]],
        spacing=[float(v) for v in spacing],
        direction=direction,
    )


def ants_matrix_to_ras(parameters: np.ndarray, center: np.ndarray) -> np.ndarray:
    """ANTs ``AffineTransform`` (fixed LPS point -> moving LPS point) as a RAS 4 x 4 matrix.

    ITK maps ``p -> M (p - c) + t + c`` with M the first 9 parameters (row-major), t the last 3.
    """
    m = np.asarray(parameters, float)[:9].reshape(3, 3)
    t = np.asarray(parameters, float)[9:12]
    c = np.asarray(center, float)[:3]
    lps = np.eye(4)
    lps[:3, :3] = m
    lps[:3, 3] = t + c - m @ c
    return _LPS @ lps @ _LPS


def affine_register(
    fixed: np.ndarray,
    fixed_affine: np.ndarray,
    moving: np.ndarray,
    moving_affine: np.ndarray,
    seed: int = 0,
    kind: str = "Affine",
) -> np.ndarray:
    """Affine registration of ``moving`` to ``fixed`` (mutual information, ANTs' defaults).

    ``kind``: ANTs' ``type_of_transform``, "Affine" (the preparation's) or "AffineFast" (the two
    finest levels skipped; measured in bench/investigations/affine_cost.py).

    Returns T (4 x 4, RAS mm) that maps a fixed world point to the matching moving world point, so
    the moving image resampled onto the fixed grid is ``moving(inv(A_moving) T A_fixed v)``.
    """
    import ants

    f, m = to_ants(fixed, fixed_affine), to_ants(moving, moving_affine)
    # antspyx 0.6 ignores registration(random_seed=...): the sampling seed is this module setting
    previous = ants.config._random_seed
    ants.config._random_seed = seed
    with tempfile.TemporaryDirectory(prefix="ltnet-ants-") as tmp:
        try:
            reg = ants.registration(
                fixed=f,
                moving=m,
                type_of_transform=kind,
                outprefix=os.path.join(tmp, "x"),
                verbose=False,
            )
        except Exception as e:  # ANTs raises RuntimeError/ValueError with long ITK messages
            raise LtnetError(f"affine registration failed ({str(e).splitlines()[0][:200]})") from None
        finally:
            ants.config._random_seed = previous
        tx = ants.read_transform(reg["fwdtransforms"][0])
        return ants_matrix_to_ras(tx.parameters, tx.fixed_parameters)

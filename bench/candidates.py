"""Candidate recipes for issue 30: ``<prefix>ladder-full-s<seed>`` rows, the default recipe's full
model trained with one setting changed, each paired against ladder-full and ladder-voxelmorph of
its seed. One place says which flags a candidate adds and how the tables describe it."""

from __future__ import annotations

from typing import NamedTuple


class Candidate(NamedTuple):
    flags: tuple[str, ...]  # added to the row's ``ltnet train``
    says: str  # the "adds" cell of RESULTS.md's candidate table


CANDIDATES: dict[str, Candidate] = {
    "sym-": Candidate(
        ("--symmetric-sim", "1"),
        "`--symmetric-sim 1`: both networks also trained through the mean field segment uses",
    ),
    "cyc0-": Candidate(
        ("--cycle-scale", "0"),
        "`--cycle-scale 0`: no cycle family (L_cyc, L_trans, L_anat, L_diff), G_B on its own L_sim",
    ),
}

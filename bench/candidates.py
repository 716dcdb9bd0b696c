"""Candidate recipes for issue 30: ``<prefix>ladder-full-s<seed>`` rows, the default recipe's full
model trained with its settings changed, each paired against ladder-full and ladder-voxelmorph of
its seed. A candidate whose change acts on VoxelMorph's training too (the learning-rate schedule)
also has a ``<prefix>ladder-voxelmorph-s<seed>`` row: the full row's fair opponent. One place says
which flags a candidate adds and how the tables describe it."""

from __future__ import annotations

from typing import NamedTuple


class Candidate(NamedTuple):
    flags: tuple[str, ...]  # added to the row's ``ltnet train``
    says: str  # the "adds" cell of RESULTS.md's candidate table
    variants: tuple[str, ...] = ("full",)  # the ladder rows trained with these flags


CANDIDATES: dict[str, Candidate] = {
    "sym-": Candidate(
        ("--symmetric-sim", "1"),
        "`--symmetric-sim 1`: both networks also trained through the mean field segment uses",
    ),
    "cyc0-": Candidate(
        ("--cycle-scale", "0"),
        "`--cycle-scale 0`: no cycle family (L_cyc, L_trans, L_anat, L_diff), G_B on its own L_sim",
    ),
    "lra-": Candidate(
        ("--anneal-steps", "200"),
        "`--anneal-steps 200`: the last 200 steps at lr/4",
        ("full", "voxelmorph"),
    ),
    "cyc0-lra-": Candidate(
        ("--cycle-scale", "0", "--anneal-steps", "200"),
        "`--cycle-scale 0 --anneal-steps 200`: no cycle family, the last 200 steps at lr/4",
    ),
}


def candidate_rows(seeds) -> list[str]:
    """Every candidate's ladder rows, ``<prefix>ladder-<variant>-s<seed>``."""
    return [f"{p}ladder-{v}-s{s}" for p, c in CANDIDATES.items() for v in c.variants for s in seeds]


def parse_candidate(row: str) -> tuple[str, str, int] | None:
    """``(prefix, variant, seed)`` of a candidate row, or None for any other row."""
    prefix, sep, rest = row.partition("ladder-")
    if not sep or prefix not in CANDIDATES or "-s" not in rest:
        return None
    variant, seed = rest.rsplit("-s", 1)
    if variant not in CANDIDATES[prefix].variants or not seed.isdigit():
        return None
    return prefix, variant, int(seed)

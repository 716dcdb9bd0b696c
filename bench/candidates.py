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
    # measured beside the default of its day, the cycle family at x0.01
    "cyc001-sym-": Candidate(
        ("--cycle-scale", "0.01", "--symmetric-sim", "1"),
        "`--cycle-scale 0.01 --symmetric-sim 1`: the x0.01 default of its day, both networks also "
        "trained through the mean field segment uses",
    ),
    # the default before 2026-12-07
    "cyc001-": Candidate(
        ("--cycle-scale", "0.01"),
        "`--cycle-scale 0.01`: the cycle family at 1/100 of the paper's weights (the default until "
        "2026-12-07)",
    ),
    # how ``--cycle-scale 0`` trained until 2026-12-07: the cycle path still ran, its terms weighed 0
    # but for L_smooth on G_B's cycle-path field, which reached G_F; 1e-9 reproduces that
    "cyc0path-": Candidate(
        ("--cycle-scale", "1e-9"),
        "`--cycle-scale 1e-9`: the cycle path run with its family weighed ~0 (how x0 trained until "
        "2026-12-07): only L_smooth on G_B's cycle field acts, and reaches G_F",
    ),
    # no change at all: the row's own command run again, for the run-to-run spread of one recipe
    "rerun-": Candidate(
        (),
        "nothing: the same command run again (the run-to-run spread of one recipe and seed)",
        ("voxelmorph",),
    ),
    "lra-": Candidate(
        ("--anneal-steps", "200"),
        "`--anneal-steps 200`: the last 200 steps at lr/4",
        ("full", "voxelmorph"),
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

"""Where the benchmark keeps its row records: ``bench/results/<profile>/rows/<row>.json``, small
files kept in git, and the parts of rows longer than one session (``<row>.partial.json``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path


class RowStore:
    """The row records of one profile, in ``self.rows`` (a folder)."""

    rows: Path

    def finished(self, row: str) -> str | None:
        """The row's ``finished`` stamp (None if not run): ties a diagnostic to the model it scored."""
        f = self.rows / f"{row}.json"
        return json.loads(f.read_text()).get("finished") if f.exists() else None

    def prep_seconds(self) -> float:
        f = self.rows / "affine.json"
        return json.loads(f.read_text())["prep_seconds_per_subject"] if f.exists() else float("nan")

    def parts(self, row: str) -> dict[str, dict]:
        """The parts (folds) of a long row done so far, kept in git beside the rows, so that a row
        longer than one session resumes from its last finished part in a fresh clone."""
        f = self.rows / f"{row}.partial.json"
        return json.loads(f.read_text())["parts"] if f.exists() else {}

    def save_part(self, row: str, key: str, record: dict) -> None:
        parts = {**self.parts(row), key: record}
        self.write_row(f"{row}.partial", {"row": row, "parts": parts})

    @staticmethod
    def merged_dice(parts: list[dict]) -> dict:
        """One ``dice.json`` record from those of disjoint subject sets (each part's test subjects)."""
        from ltnet.evaluate import Evaluation

        evs = [Evaluation.from_json(d) for d in parts]
        return functools.reduce(Evaluation.merge, evs).to_json()

    def write_row(self, row: str, result: dict) -> None:
        from ltnet.io import atomic_write_text

        atomic_write_text(self.rows / f"{row}.json", json.dumps(result, indent=2) + "\n")

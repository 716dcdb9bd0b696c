"""The 28 evaluation structures of the SPEC (FreeSurfer numbering) and their left/right pairs."""

from __future__ import annotations

# (label id, structure name), in the SPEC's order.
EVAL_STRUCTURES: tuple[tuple[int, str], ...] = (
    (2, "Left-Cerebral-White-Matter"),
    (3, "Left-Cerebral-Cortex"),
    (4, "Left-Lateral-Ventricle"),
    (7, "Left-Cerebellum-White-Matter"),
    (8, "Left-Cerebellum-Cortex"),
    (10, "Left-Thalamus"),
    (11, "Left-Caudate"),
    (12, "Left-Putamen"),
    (13, "Left-Pallidum"),
    (14, "3rd-Ventricle"),
    (15, "4th-Ventricle"),
    (16, "Brain-Stem"),
    (17, "Left-Hippocampus"),
    (18, "Left-Amygdala"),
    (24, "CSF"),
    (28, "Left-VentralDC"),
    (41, "Right-Cerebral-White-Matter"),
    (42, "Right-Cerebral-Cortex"),
    (43, "Right-Lateral-Ventricle"),
    (46, "Right-Cerebellum-White-Matter"),
    (47, "Right-Cerebellum-Cortex"),
    (49, "Right-Thalamus"),
    (50, "Right-Caudate"),
    (51, "Right-Putamen"),
    (52, "Right-Pallidum"),
    (53, "Right-Hippocampus"),
    (54, "Right-Amygdala"),
    (60, "Right-VentralDC"),
)
EVAL_LABELS: tuple[int, ...] = tuple(label for label, _ in EVAL_STRUCTURES)
LABEL_NAMES: dict[int, str] = dict(EVAL_STRUCTURES)

# Paper table 5: left and right merged (the merged value is the mean of the two Dice).
MERGED_STRUCTURES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Cerebral-White-Matter", (2, 41)),
    ("Cerebral-Cortex", (3, 42)),
    ("Lateral-Ventricle", (4, 43)),
    ("Cerebellum-White-Matter", (7, 46)),
    ("Cerebellum-Cortex", (8, 47)),
    ("Thalamus", (10, 49)),
    ("Caudate", (11, 50)),
    ("Putamen", (12, 51)),
    ("Pallidum", (13, 52)),
    ("3rd-Ventricle", (14,)),
    ("4th-Ventricle", (15,)),
    ("Brain-Stem", (16,)),
    ("Hippocampus", (17, 53)),
    ("Amygdala", (18, 54)),
    ("CSF", (24,)),
    ("VentralDC", (28, 60)),
)


def label_name(label: int) -> str:
    """The FreeSurfer name of an evaluation label, or ``label-<id>`` for any other id."""
    return LABEL_NAMES.get(int(label), f"label-{int(label)}")

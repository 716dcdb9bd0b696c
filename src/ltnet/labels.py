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
    """The FreeSurfer name of a label, or ``label-<id>`` for an id outside FreeSurfer's aseg table."""
    if int(label) in LABEL_NAMES:
        return LABEL_NAMES[int(label)]
    return FREESURFER_LUT[int(label)][0] if int(label) in FREESURFER_LUT else f"label-{int(label)}"


# FreeSurfer's colour table (FreeSurferColorLUT.txt) for the ids of an aseg: (name, (r, g, b)).
FREESURFER_LUT: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("Unknown", (0, 0, 0)),
    2: ("Left-Cerebral-White-Matter", (245, 245, 245)),
    3: ("Left-Cerebral-Cortex", (205, 62, 78)),
    4: ("Left-Lateral-Ventricle", (120, 18, 134)),
    5: ("Left-Inf-Lat-Vent", (196, 58, 250)),
    7: ("Left-Cerebellum-White-Matter", (220, 248, 164)),
    8: ("Left-Cerebellum-Cortex", (230, 148, 34)),
    10: ("Left-Thalamus", (0, 118, 14)),
    11: ("Left-Caudate", (122, 186, 220)),
    12: ("Left-Putamen", (236, 13, 176)),
    13: ("Left-Pallidum", (12, 48, 255)),
    14: ("3rd-Ventricle", (204, 182, 142)),
    15: ("4th-Ventricle", (42, 204, 164)),
    16: ("Brain-Stem", (119, 159, 176)),
    17: ("Left-Hippocampus", (220, 216, 20)),
    18: ("Left-Amygdala", (103, 255, 255)),
    24: ("CSF", (60, 60, 60)),
    26: ("Left-Accumbens-area", (255, 165, 0)),
    28: ("Left-VentralDC", (165, 42, 42)),
    30: ("Left-vessel", (160, 32, 240)),
    31: ("Left-choroid-plexus", (0, 200, 200)),
    41: ("Right-Cerebral-White-Matter", (245, 245, 245)),
    42: ("Right-Cerebral-Cortex", (205, 62, 78)),
    43: ("Right-Lateral-Ventricle", (120, 18, 134)),
    44: ("Right-Inf-Lat-Vent", (196, 58, 250)),
    46: ("Right-Cerebellum-White-Matter", (220, 248, 164)),
    47: ("Right-Cerebellum-Cortex", (230, 148, 34)),
    49: ("Right-Thalamus", (0, 118, 14)),
    50: ("Right-Caudate", (122, 186, 220)),
    51: ("Right-Putamen", (236, 13, 176)),
    52: ("Right-Pallidum", (13, 48, 255)),
    53: ("Right-Hippocampus", (220, 216, 20)),
    54: ("Right-Amygdala", (103, 255, 255)),
    58: ("Right-Accumbens-area", (255, 165, 0)),
    60: ("Right-VentralDC", (165, 42, 42)),
    62: ("Right-vessel", (160, 32, 240)),
    63: ("Right-choroid-plexus", (0, 200, 221)),
    72: ("5th-Ventricle", (120, 190, 150)),
    77: ("WM-hypointensities", (200, 70, 255)),
    80: ("non-WM-hypointensities", (164, 108, 226)),
    85: ("Optic-Chiasm", (234, 169, 30)),
    251: ("CC_Posterior", (0, 0, 64)),
    252: ("CC_Mid_Posterior", (0, 0, 112)),
    253: ("CC_Central", (0, 0, 160)),
    254: ("CC_Mid_Anterior", (0, 0, 208)),
    255: ("CC_Anterior", (0, 0, 255)),
}


def label_colour(label: int) -> tuple[int, int, int]:
    """FreeSurfer's colour of ``label``, or a fixed colour derived from the id for other ids."""
    if int(label) in FREESURFER_LUT:
        return FREESURFER_LUT[int(label)][1]
    h = (int(label) * 2654435761) & 0xFFFFFF
    return (h >> 16) & 255, (h >> 8) & 255, h & 255

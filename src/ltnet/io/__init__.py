"""Reading and writing volumes (NIfTI, MGZ), subject naming, atomic writes."""

from ltnet.io.atomic import atomic_path, atomic_write_text
from ltnet.io.image import Volume, load_image, load_labels, load_mask, save_like
from ltnet.io.naming import expand_inputs, pair_by_subject, pair_masks, subject_names

__all__ = [
    "Volume",
    "atomic_path",
    "atomic_write_text",
    "expand_inputs",
    "load_image",
    "load_labels",
    "load_mask",
    "pair_by_subject",
    "pair_masks",
    "save_like",
    "subject_names",
]

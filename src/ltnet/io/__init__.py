"""Reading and writing volumes (NIfTI, MGZ), subject naming, atomic writes."""

from ltnet.io.atomic import atomic_path, atomic_write_text
from ltnet.io.image import Volume, load_image, load_labels, save_like
from ltnet.io.naming import expand_inputs, pair_by_subject, subject_names

__all__ = [
    "Volume",
    "atomic_path",
    "atomic_write_text",
    "expand_inputs",
    "load_image",
    "load_labels",
    "pair_by_subject",
    "save_like",
    "subject_names",
]

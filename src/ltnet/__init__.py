"""ltnet: one-shot segmentation of 3D medical images by label transfer (LT-Net, CVPR 2020).

The heavy modules (torch, MONAI) are imported by the submodules that need them, so that
``import ltnet`` and ``ltnet --help`` stay fast.
"""

from ltnet.errors import LtnetError

__version__ = "0.1.0"

__all__ = ["LtnetError", "__version__"]

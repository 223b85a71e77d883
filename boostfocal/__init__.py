"""boostfocal: focal loss as a training objective for XGBoost and LightGBM.

Importing this package compiles nothing: the Numba kernels compile on first use and are cached on
disk. The boosters are imported only by the adapters that need them.
"""

from .binary import BinaryFocalLoss
from .kernels.threads import get_kernel_threads, kernel_threads, set_kernel_threads
from .loss import FocalLoss, balanced_alpha

__all__ = ["BinaryFocalLoss", "FocalLoss", "balanced_alpha", "get_kernel_threads", "kernel_threads",
           "set_kernel_threads", "__version__"]
__version__ = "0.1.0"

"""Small helpers with Dassl's names (``dassl.utils.tools``)."""
import random

import numpy as np
import torch
from PIL import Image

from dpl.errors import DataError


def set_random_seed(seed):
    """Seed every generator a run draws from (python, numpy, torch CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def tolist_if_not(x):
    return x if isinstance(x, list) else [x]


def read_image(path, dataset_name=None):
    """Read an image as RGB PIL image; an unreadable file is a DataError naming the path (and dataset)."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, ValueError) as e:
        where = f" of dataset {dataset_name}" if dataset_name else ""
        raise DataError(f"Cannot read image {path}{where}: {e}") from e


def check_isfile(fpath):
    import os

    return os.path.isfile(fpath)

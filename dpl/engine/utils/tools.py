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


# Integer modes wider than 8 bits hold 16-bit values (a 16-bit PNG opens as I;16, or as I with older Pillow).
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(img):
    """An RGB copy of a PIL image of any mode. 16-bit (and 32-bit integer) grey images are scaled from 0..65535,
    float images from 0..1 (values above 1: taken as 0..255): ``convert("RGB")`` would saturate them to white."""
    if img.mode in _SIXTEEN_BIT:
        grey = np.clip(np.asarray(img, dtype=np.float64), 0, 65535) / 257.0
    elif img.mode == "F":
        grey = np.nan_to_num(np.asarray(img, dtype=np.float64))
        grey = np.clip(grey * 255.0 if grey.max(initial=0.0) <= 1.0 else grey, 0, 255)
    else:
        return img.convert("RGB")
    return Image.fromarray(np.round(grey).astype(np.uint8), "L").convert("RGB")


def read_image(path, dataset_name=None):
    """Read an image as RGB PIL image (any mode, see ``to_rgb``); an unreadable file is a DataError naming the path
    (and dataset)."""
    try:
        with Image.open(path) as img:
            return to_rgb(img)
    except (OSError, ValueError) as e:
        where = f" of dataset {dataset_name}" if dataset_name else ""
        raise DataError(f"Cannot read image {path}{where}: {e}") from e


def check_isfile(fpath):
    import os

    return os.path.isfile(fpath)

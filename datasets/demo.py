"""A small dataset that makes itself: 5 classes of coloured shapes on noisy backgrounds (64x64 PNG).

``<root>/demo/`` holds ``images/<class folder>/*.png`` and a real ``split_zhou_Demo.json`` (16/4/10 images
per class). It is built in a temporary folder and renamed into place, so a crash never leaves half a
dataset; a ``demo/`` folder that exists but is incomplete is reported, never overwritten.
"""
import os
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageDraw

from dpl.engine.data.datasets import DATASET_REGISTRY, Datum
from dpl.errors import DataError

from .base import SplitFileDataset
from .split_io import write_split

SIZE = 64
PER_SPLIT = {"train": 16, "val": 4, "test": 10}
# class name -> (RGB colour, shape); colour and shape both separate the classes
CLASSES = {
    "red circle": ((220, 40, 40), "circle"),
    "green square": ((40, 180, 60), "square"),
    "blue triangle": ((40, 70, 220), "triangle"),
    "yellow cross": ((230, 210, 40), "cross"),
    "purple ring": ((150, 50, 190), "ring"),
}
GENERATOR_SEED = 0


def _draw(shape, colour, rng):
    background = rng.integers(90, 166, size=(SIZE, SIZE, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    r = int(rng.integers(12, 22))
    cx, cy = (int(v) for v in rng.integers(r + 2, SIZE - r - 2, size=2))
    jitter = rng.integers(-25, 26, size=3)
    fill = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter))
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "cross":
        w = max(3, r // 3)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
    else:  # ring
        draw.ellipse(box, outline=fill, width=max(3, r // 3))
    noise = rng.normal(0, 12, size=(SIZE, SIZE, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def generate_demo(folder):
    """Write the Demo dataset into ``folder`` (which must not exist yet) via a temp folder + rename."""
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".demo-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the dataset is renamed from it and must stay readable
    try:
        rng = np.random.default_rng(GENERATOR_SEED)
        image_dir = os.path.join(tmp, "images")
        splits = {k: [] for k in PER_SPLIT}
        for label, (classname, (colour, shape)) in enumerate(CLASSES.items()):
            class_dir = os.path.join(image_dir, classname.replace(" ", "_"))
            os.makedirs(class_dir)
            index = 0
            for split, count in PER_SPLIT.items():
                for _ in range(count):
                    path = os.path.join(class_dir, f"{index:03d}.png")
                    _draw(shape, colour, rng).save(path)
                    splits[split].append(Datum(impath=path, label=label, classname=classname))
                    index += 1
        write_split(splits["train"], splits["val"], splits["test"], os.path.join(tmp, Demo.split_file), image_dir)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not os.path.isdir(folder):  # not a lost race with another process: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@DATASET_REGISTRY.register()
class Demo(SplitFileDataset):
    dataset_dir = "demo"
    image_subdir = "images"
    split_file = "split_zhou_Demo.json"
    config_stem = "demo"

    @classmethod
    def ensure(cls, root):
        """Generate ``<root>/demo`` when absent; refuse to touch a present but incomplete one."""
        folder = cls.folder(root)
        if not os.path.exists(folder):
            print(f"Generating the Demo dataset in {folder}")
            generate_demo(folder)
            return
        split_path = cls.split_path_of(root)
        if not os.path.isfile(split_path):
            raise DataError(f"The Demo folder {folder} exists but has no {cls.split_file}; it is not a complete "
                            f"generated Demo dataset. Delete or move it to let DPL regenerate it "
                            f"({cls.where()})")

    @classmethod
    def require_images(cls, splits):
        try:
            super().require_images(splits)
        except DataError as e:
            raise DataError(f"The Demo dataset is incomplete: {e}. Delete the demo folder to regenerate it.") from None

    def __init__(self, cfg):
        self.ensure(cfg.DATASET.ROOT)
        super().__init__(cfg)

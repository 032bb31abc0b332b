"""A user's own dataset without code: ``DATASET.FOLDER`` (absolute, or relative to DATASET.ROOT) holds

- a ``split.json`` in split_zhou form (paths relative to the folder), or
- one sub-folder per class. Each class's images (sorted by file name, then shuffled with a fixed seed)
  are split 50/20/30 into train/val/test; at least 3 images per class.

Class names come from the folder names with underscores read as spaces. Nothing is written into the
folder; few-shot caches go to ``<DATASET.ROOT>/split_fewshot_custom/<folder name>-<path hash>/``.
"""
import hashlib
import os
import random

from dpl.engine.data.datasets import DATASET_REGISTRY, Datum
from dpl.engine.utils.io import listdir_nohidden
from dpl.errors import ConfigError

from .base import CoOpDataset, resolve_root
from .imagenet import is_image
from .split_io import read_split

SPLIT_FILE = "split.json"
FRACTIONS = (0.5, 0.2, 0.3)  # train, val, test
SHUFFLE_SEED = 0
MIN_PER_CLASS = 3


def split_counts(n):
    """(train, val, test) sizes for ``n`` images: val and test rounded, at least one each; train the rest."""
    n_val = max(1, round(n * FRACTIONS[1]))
    n_test = max(1, round(n * FRACTIONS[2]))
    return n - n_val - n_test, n_val, n_test


def folder_of(cfg):
    name = getattr(cfg.DATASET, "FOLDER", "")
    if not name:
        raise ConfigError("DATASET.FOLDER is empty: set it to your dataset folder (absolute, or relative to "
                          "DATASET.ROOT) to use DATASET.NAME CustomFolder; see DATASETS.md, section CustomFolder")
    return os.path.join(resolve_root(cfg), os.path.expanduser(name))


@DATASET_REGISTRY.register()
class CustomFolder(CoOpDataset):
    dataset_dir = ""
    config_stem = "custom_folder"

    @classmethod
    def read_folder(cls, folder):
        folder = cls.require_dir(os.path.abspath(folder), "DATASET.FOLDER not found")
        split_path = os.path.join(folder, SPLIT_FILE)
        if os.path.isfile(split_path):
            train, val, test = read_split(split_path, folder, where=cls.where())
            return {"train": train, "val": val, "test": test}
        classes = sorted(d for d in listdir_nohidden(folder) if os.path.isdir(os.path.join(folder, d)))
        if not classes:
            raise cls.error(f"No {SPLIT_FILE} and no class sub-folders found", folder)
        out = {"train": [], "val": [], "test": []}
        for label, class_folder in enumerate(classes):
            class_dir = os.path.join(folder, class_folder)
            names = sorted(n for n in listdir_nohidden(class_dir) if is_image(n))
            if len(names) < MIN_PER_CLASS:
                raise cls.error(f"Class folder has {len(names)} images, at least {MIN_PER_CLASS} are needed "
                                "(train, val and test each get one)", class_dir)
            random.Random(SHUFFLE_SEED).shuffle(names)
            n_train, n_val, _ = split_counts(len(names))
            classname = class_folder.replace("_", " ")
            items = [Datum(impath=os.path.join(class_dir, n), label=label, classname=classname) for n in names]
            out["train"] += items[:n_train]
            out["val"] += items[n_train:n_train + n_val]
            out["test"] += items[n_train + n_val:]
        return out

    @classmethod
    def read_splits(cls, root):
        raise NotImplementedError("CustomFolder reads DATASET.FOLDER; use read_folder(folder)")

    def __init__(self, cfg):
        folder = os.path.abspath(folder_of(cfg))
        self.image_dir = folder
        digest = hashlib.sha1(folder.encode()).hexdigest()[:8]
        self.split_fewshot_dir = os.path.join(resolve_root(cfg), "split_fewshot_custom",
                                              f"{os.path.basename(folder)}-{digest}")
        self._folder = folder
        super().__init__(cfg)

    def load_splits(self, root):
        return self.read_folder(self._folder)

    def fewshot_cache_dir(self):
        return self.split_fewshot_dir

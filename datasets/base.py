"""What every CoOp-format dataset shares: locating folders, DataErrors that point into DATASETS.md,
the missing-image check, and the few-shot / base-new steps in CoOp's order.

A reader subclass implements ``read_splits(root) -> {"train": [...], "val": [...], "test": [...]}``
(a classmethod, so ``dpl.check_data`` can inspect a root without building the dataset) and sets
``dataset_dir`` (folder under the root) and ``section`` (its DATASETS.md section).
"""
import os

from dpl.engine.data.datasets import DatasetBase, Datum
from dpl.errors import DataError

from .split_io import read_split

MAX_LISTED = 5  # how many missing paths an error message names


def resolve_root(cfg):
    return os.path.abspath(os.path.expanduser(cfg.DATASET.ROOT))


class CoOpDataset(DatasetBase):
    dataset_dir = ""      # folder under DATASET.ROOT
    section = ""          # DATASETS.md section (defaults to the registry name)
    config_stem = ""      # configs/datasets/<stem>.yaml
    test_only = False     # ImageNet variants: train_x = test = the data, no few-shot
    fewshot_val = True    # ImageNet samples only train (val is the test set)

    @classmethod
    def section_name(cls):
        return cls.section or cls.__name__

    @classmethod
    def where(cls):
        return f"dataset {cls.__name__}; see DATASETS.md, section {cls.section_name()}"

    @classmethod
    def error(cls, what, path):
        """DataError naming the path, the dataset and its DATASETS.md section."""
        return DataError(f"{what}: {path} ({cls.where()})")

    @classmethod
    def folder(cls, root):
        return os.path.join(os.path.abspath(os.path.expanduser(root)), cls.dataset_dir)

    @classmethod
    def require_dir(cls, path, what="Dataset folder not found"):
        if not os.path.isdir(path):
            raise cls.error(what, path)
        return path

    @classmethod
    def require_file(cls, path, what="File not found"):
        if not os.path.isfile(path):
            raise cls.error(what, path)
        return path

    @classmethod
    def read_splits(cls, root):
        raise NotImplementedError

    @classmethod
    def source_files(cls, root):
        """Files whose content defines the splits (split or class lists); a run's fingerprint hashes them, so a
        dataset replaced under the same name is told apart. Folder-only datasets have none."""
        return []

    @classmethod
    def missing_images(cls, items):
        return [item.impath for item in items if not os.path.isfile(item.impath)]

    @classmethod
    def require_images(cls, splits):
        for name, items in splits.items():
            missing = cls.missing_images(items)
            if missing:
                listed = ", ".join(missing[:MAX_LISTED]) + (", ..." if len(missing) > MAX_LISTED else "")
                raise DataError(f"{len(missing)} of {len(items)} {name} images are missing, e.g. {listed} "
                                f"({cls.where()})")

    def __init__(self, cfg):
        root = resolve_root(cfg)
        self.dataset_dir = self.folder(root)
        splits = self.load_splits(root)
        self.require_images(splits)
        if self.test_only:
            super().__init__(train_x=splits["test"], test=splits["test"])
            return
        train, val, test = splits["train"], splits["val"], splits["test"]
        self.require_train_classes(train, {"val": val, "test": test})
        train, val = self.sample_fewshot(cfg, train, val)
        subsample = getattr(cfg.DATASET, "SUBSAMPLE_CLASSES", "all")
        try:
            train, val, test = self.subsample_classes(train, val, test, subsample=subsample)
        except ValueError as e:
            raise DataError(str(e)) from None
        super().__init__(train_x=train, val=val, test=test)

    @classmethod
    def require_train_classes(cls, train, others):
        """DataError naming the class when val/test hold a label the training list lacks: class names are read
        from the training items, so every later label would be scored against another class's name."""
        trained = {item.label for item in train}
        for split, items in others.items():
            for item in items or ():
                if item.label not in trained:
                    raise DataError(f"The {split} split has class {item.classname!r} (label {item.label}), which the "
                                    "train split lacks: class names come from the training items, so labels would "
                                    "no longer match their names. Every class needs training images; fix the split "
                                    f"({cls.where()}).")

    def load_splits(self, root):
        return self.read_splits(root)

    def fewshot_cache_dir(self):
        return os.path.join(self.dataset_dir, "split_fewshot")

    def fewshot_image_dir(self):
        return self.image_dir

    def sample_fewshot(self, cfg, train, val):
        num_shots = cfg.DATASET.NUM_SHOTS
        if num_shots < 1:
            return train, val
        if not self.fewshot_val:
            train, _ = self.load_or_sample_fewshot(train, [], num_shots, cfg.SEED, self.fewshot_cache_dir(),
                                                   self.fewshot_image_dir())
            return train, val
        return self.load_or_sample_fewshot(train, val, num_shots, cfg.SEED, self.fewshot_cache_dir(),
                                           self.fewshot_image_dir())


class SplitFileDataset(CoOpDataset):
    """A dataset whose splits come from ``<dataset_dir>/split_zhou_<Name>.json`` over ``image_subdir``."""

    image_subdir = ""     # "" = the dataset folder itself (StanfordCars)
    split_file = ""       # e.g. split_zhou_Caltech101.json
    classname_map = {}    # raw class name -> CoOp's name (EuroSAT); names not in it are kept

    @classmethod
    def image_dir_of(cls, root):
        return os.path.join(cls.folder(root), cls.image_subdir) if cls.image_subdir else cls.folder(root)

    @classmethod
    def split_path_of(cls, root):
        return os.path.join(cls.folder(root), cls.split_file)

    @classmethod
    def source_files(cls, root):
        return [cls.split_path_of(root)]

    @classmethod
    def read_splits(cls, root):
        cls.require_dir(cls.folder(root))
        image_dir = cls.require_dir(cls.image_dir_of(root), "Image folder not found")
        split_path = cls.require_file(cls.split_path_of(root), "Split file not found")
        train, val, test = read_split(split_path, image_dir, where=cls.where(), dataset_dir=cls.folder(root))
        out = {"train": train, "val": val, "test": test}
        if cls.classname_map:
            out = {k: cls._renamed(v) for k, v in out.items()}
        return out

    @classmethod
    def _renamed(cls, items):
        return [Datum(impath=i.impath, label=i.label, domain=i.domain, classname=cls.classname_map.get(i.classname, i.classname))
                for i in items]

    def __init__(self, cfg):
        root = resolve_root(cfg)
        self.image_dir = self.image_dir_of(root)
        self.split_path = self.split_path_of(root)
        self.split_fewshot_dir = os.path.join(self.folder(root), "split_fewshot")
        super().__init__(cfg)

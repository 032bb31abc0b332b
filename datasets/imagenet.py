"""ImageNet-1k in CoOp's layout: ``imagenet/images/{train,val}/<wnid>/*`` and ``imagenet/classnames.txt``
("<wnid> <class name>" per line). The val set is the test set. Lists are read from the folders
(sorted, so few-shot sampling does not depend on the file system's listing order)."""
import os
import warnings
from collections import OrderedDict

from dpl.engine.data.datasets import DATASET_REGISTRY, Datum
from dpl.engine.utils.io import listdir_nohidden

from .base import CoOpDataset, resolve_root

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def shipped_classnames_path():
    """The 1000 "wnid classname" lines shipped with the package (CoOp's classnames.txt form)."""
    import dpl

    return os.path.join(os.path.dirname(os.path.abspath(dpl.__file__)), "resources", "imagenet_classnames.txt")


def read_classnames(path):
    """``classnames.txt`` -> OrderedDict wnid -> class name (file order)."""
    out = OrderedDict()
    with open(path, "r") as f:
        for line in f:
            parts = line.strip().split(" ")
            if parts[0]:
                out[parts[0]] = " ".join(parts[1:])
    return out


def find_classnames(candidates, dataset):
    """The first existing file among ``candidates``; else the shipped list, with a warning."""
    for path in candidates:
        if os.path.isfile(path):
            return read_classnames(path)
    warnings.warn(f"{dataset}: no classnames.txt at {' or '.join(candidates)}; using the list shipped with "
                  f"DPL ({shipped_classnames_path()}). See DATASETS.md, section ImageNet.")
    return read_classnames(shipped_classnames_path())


def is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_class_folder(class_dir, label, classname):
    return [Datum(impath=os.path.join(class_dir, name), label=label, classname=classname)
            for name in sorted(listdir_nohidden(class_dir)) if is_image(name)]


def flat_images(folder):
    """Image files lying directly in ``folder`` (the flat-extracted ImageNet val trap)."""
    return [n for n in listdir_nohidden(folder) if is_image(n) and os.path.isfile(os.path.join(folder, n))]


def class_folders(folder):
    return sorted(n for n in listdir_nohidden(folder) if os.path.isdir(os.path.join(folder, n)))


@DATASET_REGISTRY.register()
class ImageNet(CoOpDataset):
    dataset_dir = "imagenet"
    config_stem = "imagenet"
    fewshot_val = False  # CoOp samples only train; val is the test set

    @classmethod
    def classnames_path(cls, root):
        return os.path.join(cls.folder(root), "classnames.txt")

    @classmethod
    def source_files(cls, root):
        return [cls.classnames_path(root)]

    @classmethod
    def read_splits(cls, root):
        folder = cls.require_dir(cls.folder(root))
        image_dir = cls.require_dir(os.path.join(folder, "images"), "Image folder not found")
        classnames = find_classnames([cls.classnames_path(root)], cls.__name__)
        train_dir = cls.require_dir(os.path.join(image_dir, "train"), "Train folder not found")
        val_dir = cls.require_dir(os.path.join(image_dir, "val"), "Val folder not found")
        flat = flat_images(val_dir)
        if flat:
            raise cls.error(f"{len(flat)} images lie directly in the val folder (e.g. {flat[0]}); ImageNet val "
                            "was extracted flat and must be sorted into one folder per class (wnid)", val_dir)
        wnids = class_folders(train_dir)
        unknown = [w for w in wnids if w not in classnames]
        if unknown:
            raise cls.error(f"Class folders {unknown[:5]} are not in classnames.txt", train_dir)
        label_of = {w: i for i, w in enumerate(wnids)}
        train, test = [], []
        for w in wnids:
            train += list_class_folder(os.path.join(train_dir, w), label_of[w], classnames[w])
        for w in class_folders(val_dir):
            if w not in label_of:
                raise cls.error(f"Val class folder {w} has no train folder", val_dir)
            test += list_class_folder(os.path.join(val_dir, w), label_of[w], classnames[w])
        return {"train": train, "val": test, "test": test}

    @classmethod
    def require_images(cls, splits):
        pass  # the lists come from the folders themselves

    def __init__(self, cfg):
        self.image_dir = os.path.join(self.folder(resolve_root(cfg)), "images")
        self.split_fewshot_dir = os.path.join(self.folder(resolve_root(cfg)), "split_fewshot")
        super().__init__(cfg)


class ImageNetFolderTestSet(CoOpDataset):
    """Test-only ImageNet variants: one folder per wnid under ``image_subdir``; label = position in the
    sorted folder list (as CoOp). Class names from the variant's own classnames.txt, else ImageNet's."""

    test_only = True
    image_subdir = ""
    ignored = ()

    @classmethod
    def load_classnames(cls, root):
        return find_classnames([os.path.join(cls.folder(root), "classnames.txt"),
                                ImageNet.classnames_path(root)], cls.__name__)

    @classmethod
    def read_splits(cls, root):
        folder = cls.require_dir(cls.folder(root))
        image_dir = cls.require_dir(os.path.join(folder, cls.image_subdir), "Image folder not found")
        classnames = cls.load_classnames(root)
        data = []
        folders = [f for f in class_folders(image_dir) if f not in cls.ignored]
        if not folders:
            raise cls.error("No class folders found", image_dir)
        for label, wnid in enumerate(folders):
            if wnid not in classnames:
                raise cls.error(f"Class folder {wnid} is not in classnames.txt", image_dir)
            data += list_class_folder(os.path.join(image_dir, wnid), label, classnames[wnid])
        return {"test": data}

    @classmethod
    def require_images(cls, splits):
        pass

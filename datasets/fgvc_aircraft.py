"""FGVC-Aircraft, read from the official files: ``variants.txt`` (class names, label = line index) and
``images_variant_{train,val,test}.txt`` (lines "<image id> <variant name>", image ``images/<id>.jpg``)."""
import os

from dpl.engine.data.datasets import DATASET_REGISTRY, Datum

from .base import CoOpDataset, resolve_root


@DATASET_REGISTRY.register()
class FGVCAircraft(CoOpDataset):
    dataset_dir = "fgvc_aircraft"
    config_stem = "fgvc_aircraft"
    split_files = {"train": "images_variant_train.txt", "val": "images_variant_val.txt",
                   "test": "images_variant_test.txt"}

    @classmethod
    def source_files(cls, root):
        return [os.path.join(cls.folder(root), f) for f in ("variants.txt", *cls.split_files.values())]

    @classmethod
    def read_splits(cls, root):
        folder = cls.require_dir(cls.folder(root))
        image_dir = cls.require_dir(os.path.join(folder, "images"), "Image folder not found")
        variants = cls.require_file(os.path.join(folder, "variants.txt"), "Class list not found")
        with open(variants, "r") as f:
            classnames = [line.strip() for line in f if line.strip()]
        cname2lab = {c: i for i, c in enumerate(classnames)}
        return {split: cls._read_list(os.path.join(folder, fname), image_dir, cname2lab)
                for split, fname in cls.split_files.items()}

    @classmethod
    def _read_list(cls, path, image_dir, cname2lab):
        cls.require_file(path, "Split file not found")
        items = []
        with open(path, "r") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.strip().split(" ")
                if not parts[0]:
                    continue
                classname = " ".join(parts[1:])
                if classname not in cname2lab:
                    raise cls.error(f"Line {lineno} names variant {classname!r}, which is not in variants.txt", path)
                items.append(Datum(impath=os.path.join(image_dir, parts[0] + ".jpg"), label=cname2lab[classname],
                                   classname=classname))
        return items

    def __init__(self, cfg):
        self.image_dir = os.path.join(self.folder(resolve_root(cfg)), "images")
        super().__init__(cfg)

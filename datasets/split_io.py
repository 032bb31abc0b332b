"""CoOp's ``split_zhou_<Name>.json`` files: ``{"train"|"val"|"test": [[relpath, label, classname], ...]}``."""
import json
import os

from dpl.engine.data.datasets import from_triples, to_triples
from dpl.engine.utils.io import write_json
from dpl.errors import DataError

SPLITS = ("train", "val", "test")


def read_split(path, image_dir, where="", dataset_dir=None):
    """Read a split file; ``image_dir`` is the folder the relative paths start from.

    Returns ``(train, val, test)`` Datum lists. A malformed file raises DataError naming ``path`` and
    ``where`` (the dataset and its DATASETS.md section); so do labels outside 0..(number of classes - 1) or one
    label with two class names (a model of the wrong size), and paths that leave ``dataset_dir`` (default
    ``image_dir``)."""
    suffix = f" ({where})" if where else ""
    try:
        with open(path, "r") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"Split file {path} is not valid JSON: {e}{suffix}") from None
    if not isinstance(data, dict) or any(k not in data for k in SPLITS):
        raise DataError(f"Split file {path} must be a JSON object with keys {list(SPLITS)}, "
                        f"each a list of [relative path, label, class name]{suffix}")
    out = []
    for key in SPLITS:
        try:
            out.append(from_triples(data[key], image_dir))
        except (TypeError, ValueError) as e:
            raise DataError(f'Split file {path}: entries of "{key}" must be [relative path, label, '
                            f"class name] ({e}){suffix}") from None
    for key in SPLITS:
        _check_paths(data[key], image_dir, dataset_dir or image_dir, f"{path} ({key})", suffix)
    _check_labels(out, path, suffix)
    return tuple(out)


def _check_paths(triples, image_dir, dataset_dir, where, suffix):
    inside = os.path.normpath(os.path.abspath(dataset_dir)) + os.sep
    for relpath, _, _ in triples:
        full = os.path.normpath(os.path.join(os.path.abspath(image_dir), relpath))
        if os.path.isabs(relpath) or not full.startswith(inside):
            raise DataError(f"Split file {where} lists {relpath!r}, which is outside the dataset folder "
                            f"{dataset_dir}; split paths must be relative paths inside it{suffix}")


def _check_labels(splits, path, suffix):
    names = {}
    for items in splits:
        for item in items:
            if names.setdefault(item.label, item.classname) != item.classname:
                raise DataError(f"Split file {path}: label {item.label} names two classes, {names[item.label]!r} and "
                                f"{item.classname!r}{suffix}")
    bad = [label for label in sorted(names) if not 0 <= label < len(names)]
    if bad:
        raise DataError(f"Split file {path} has {len(names)} classes but label {bad[-1]}; labels must run from 0 "
                        f"to {len(names) - 1} (a model would get a class for every missing label){suffix}")


def write_split(train, val, test, path, image_dir):
    """Write a split file (atomic) with paths relative to ``image_dir``."""
    write_json({"train": to_triples(train, image_dir), "val": to_triples(val, image_dir),
                "test": to_triples(test, image_dir)}, path)

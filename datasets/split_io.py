"""CoOp's ``split_zhou_<Name>.json`` files: ``{"train"|"val"|"test": [[relpath, label, classname], ...]}``."""
import json

from dpl.engine.data.datasets import from_triples, to_triples
from dpl.engine.utils.io import write_json
from dpl.errors import DataError

SPLITS = ("train", "val", "test")


def read_split(path, image_dir, where=""):
    """Read a split file; ``image_dir`` is the folder the relative paths start from.

    Returns ``(train, val, test)`` Datum lists. A malformed file raises DataError naming ``path`` and
    ``where`` (the dataset and its DATASETS.md section)."""
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
    return tuple(out)


def write_split(train, val, test, path, image_dir):
    """Write a split file (atomic) with paths relative to ``image_dir``."""
    write_json({"train": to_triples(train, image_dir), "val": to_triples(val, image_dir),
                "test": to_triples(test, image_dir)}, path)

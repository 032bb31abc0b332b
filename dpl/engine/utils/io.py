"""File helpers with Dassl's names; every write is atomic (temp file in the same folder, then rename)."""
import contextlib
import json
import os
import tempfile


def mkdir_if_missing(dirname):
    if dirname:
        os.makedirs(dirname, exist_ok=True)


def listdir_nohidden(path, sort=False):
    items = [f for f in os.listdir(path) if not f.startswith(".")]
    if sort:
        items.sort()
    return items


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temp file beside ``path``; on success it replaces ``path``, on error it is removed."""
    dirname = os.path.dirname(os.path.abspath(path))
    mkdir_if_missing(dirname)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=dirname)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json(obj, fpath, indent=4):
    with atomic_open(fpath, "w") as f:
        json.dump(obj, f, indent=indent, separators=(",", ": "))


def read_json(fpath):
    with open(fpath, "r") as f:
        return json.load(f)


def atomic_torch_save(obj, fpath):
    import torch

    with atomic_open(fpath, "wb") as f:
        torch.save(obj, f)

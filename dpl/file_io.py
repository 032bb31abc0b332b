"""File helpers every layer uses (Dassl's names); every write is atomic (temp file in the same folder, then rename).
The base layer, beside dpl/errors.py: it imports nothing of the project but that.

Files end with the permissions a plain ``open`` gives (the user's umask), and the temp file a killed write
leaves behind (``.<name>.<8 random chars>.tmp``) is removed by ``remove_stale_temps`` on the next run."""
import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time

from dpl.errors import DiskFullError

_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"
# mkstemp's names: prefix + 8 characters of [a-z0-9_] + suffix
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


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
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX + os.path.basename(path) + ".", suffix=_TEMP_SUFFIX,
                               dir=dirname)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600 files; others may need to read them
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(e.errno, f"Cannot write {path}: {e.strerror} ({_free_space(dirname)} free in "
                                f"{dirname}). The previous version of the file, if any, is unchanged; free some "
                                "space and run again (an interrupted run resumes from its checkpoints).") from e
        raise


def _free_space(dirname):
    try:
        free = shutil.disk_usage(dirname).free
    except OSError:
        return "unknown space"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if free < 1024 or unit == "GiB":
            return f"{free:.0f} {unit}" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024


def _current_umask():
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def remove_stale_temps(directory, min_age_s=0.0, depth=1):
    """Remove the temp files of killed atomic writes in ``directory`` and its sub-folders down to ``depth`` levels
    (a run folder: its model folders and alphas/); return their paths. Not deeper: a mistyped output folder (a
    home directory) must not be swept.

    ``min_age_s`` > 0 spares younger ones: in a folder that other runs write to (few-shot caches), a young temp
    file may belong to a write in progress."""
    removed = []
    if not directory or not os.path.isdir(directory):
        return removed
    now = time.time()
    top = os.path.abspath(directory).rstrip(os.sep).count(os.sep)
    for dirpath, dirnames, filenames in os.walk(directory):
        if os.path.abspath(dirpath).rstrip(os.sep).count(os.sep) - top >= depth:
            dirnames[:] = []
        for name in filenames:
            if not _TEMP_NAME.match(name):
                continue
            path = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                if min_age_s and now - os.path.getmtime(path) < min_age_s:
                    continue
                os.remove(path)
                removed.append(path)
    return removed


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

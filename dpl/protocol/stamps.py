"""A finished step's skip check without importing torch: the stamp a full check leaves.

A full check (``dpl.runs.run_identity.finished``) builds the run's config, which loads the trainers, datasets and
backbone code (torch: seconds per process). When it finds a step finished, it leaves ``.skip_check.json`` in the run
folder: the train.py arguments, the interpreter, the code version, and the size and modification time of every file
the fingerprint read (configs, split files, weights, layout, checkpoints, the marker itself; and the folders an
evaluation picks its checkpoint from). A later check whose arguments, interpreter and version are the same and whose
files are all unchanged is finished for the same reason, and says so without building anything. Anything else
(a changed file, other arguments, another version) falls back to the full check. A fingerprint that holds a
"missing" file, a weights file "not on this machine" or a folder listing leaves no stamp: those can change without
a file the stamp could watch.
"""
import json
import os
import sys

import dpl
from dpl.file_io import write_json

STAMP = ".skip_check.json"
UNWATCHABLE = ("missing", "not on this machine")


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _identity(args):
    return {"argv": list(args), "python": os.path.abspath(sys.executable), "version": dpl.__version__}


def _config_files(args, repo):
    files = []
    for flag in ("--config-file", "--dataset-config-file"):
        if flag in args:
            path = args[args.index(flag) + 1]
            files.append(path if os.path.isabs(path) else os.path.join(repo, path))
    return files


def _model_folders(args):
    if "--model-dir" not in args:
        return []
    model_dir = args[args.index("--model-dir") + 1]
    subs = [os.path.join(model_dir, n) for n in sorted(os.listdir(model_dir))] if os.path.isdir(model_dir) else []
    return [model_dir, *(s for s in subs if os.path.isdir(s))]


def holds(step, repo):
    """True when the step's stamp says it is finished with exactly these arguments and nothing it read changed."""
    path = os.path.join(step.run_dir, STAMP)
    try:
        with open(path) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or {k: stamp.get(k) for k in ("argv", "python", "version")} != _identity(step.args):
        return False
    watched = stamp.get("files")
    return isinstance(watched, dict) and bool(watched) and all(_stat(p) == s for p, s in watched.items())


def leave(step, repo, fingerprint, hashed_files):
    """After a full check found ``step`` finished with ``fingerprint``: its stamp (none for an unwatchable one)."""
    values = [v for v in fingerprint.values() if isinstance(v, str)]
    if any(v in UNWATCHABLE for v in values) or "dataset.listing" in fingerprint:
        return
    files = [step.marker, *_config_files(step.args, repo), *hashed_files, *_model_folders(step.args)]
    try:
        write_json({**_identity(step.args), "files": {p: _stat(p) for p in files}},
                   os.path.join(step.run_dir, STAMP), indent=1)
    except OSError:  # a read-only results folder: the next check is a full one, nothing else changes
        pass

"""Skip or refuse, decided in one place: is a step's run folder finished with exactly this configuration?

- no marker file (results.json / layout.json): not finished, run it (an interrupted run resumes by itself);
- a marker whose recorded fingerprint equals this configuration's: finished, skip it;
- a marker of another configuration: refused (OtherRunError), nothing is run or overwritten.

The fingerprint holds the code version and file hashes, so it is computed by the interpreter that runs train.py:
in this process when that is this very interpreter (one process for a whole protocol, and without importing torch
when the step's stamp says nothing changed since the last full check: stamps.py), else by that interpreter
(``PYTHON -m dpl.runs.run_identity check``, one process per finished step).
"""
import json
import os
import shutil
import subprocess
import sys

from dpl.runs.run_identity import OtherRunError

from . import stamps
from .settings import REPO


def runs_here(python):
    """Whether the train.py interpreter ``python`` (argv words) is this process's interpreter, with no arguments."""
    if len(python) != 1:
        return False
    found = shutil.which(python[0])
    # not realpath: the python of two virtual environments is one file, their packages are not
    return bool(found) and os.path.abspath(found) == os.path.abspath(sys.executable)


def from_repo(args):
    """train.py arguments as read from any folder: relative config files are the repository's (train.py runs there)."""
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a in ("--config-file", "--dataset-config-file") and not os.path.isabs(out[i + 1]):
            out[i + 1] = os.path.join(REPO, out[i + 1])
    return out


def finished(step, settings):
    """True: finished with this configuration (skip); False: run it; OtherRunError: another configuration's."""
    if not os.path.isfile(step.marker):
        return False
    if runs_here(settings.python):
        if stamps.holds(step, REPO):
            return True
        from dpl.runs import run_identity

        if not run_identity.finished_args(from_repo(step.args)):
            return False
        with open(step.marker) as f:
            recorded = json.load(f).get("fingerprint") or {}
        stamps.leave(step, REPO, recorded, run_identity.hashed_files())
        return True
    proc = subprocess.run([*settings.python, "-m", "dpl.runs.run_identity", "check", *step.args], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    raise OtherRunError(" ".join((proc.stderr or proc.stdout).strip().removeprefix("Error: ").split())
                        or f"{step.run_dir} holds a run of another configuration")

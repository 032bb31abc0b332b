"""An epoch's checkpoints of every registered model as one unit, in Dassl's layout
(``<dir>/<model>/model.pth.tar-<epoch>`` plus the ``checkpoint`` pointer of each model).

Writing: every model's epoch file first, then every pointer, then old epochs are pruned. Each file is atomic, so
a kill at any point leaves whole files only, and an epoch is complete once all its model files exist (the side
files of an epoch, e.g. DPLSearch's alphas, are written before the model files).

Resuming: the newest epoch of which every model has a readable file. The pointers are checked against it: a
missing pointer is recovered from the files and pointers that disagree (a run killed between two pointer
updates) are reported, never followed model by model.
"""
import os
import re

from dpl.errors import CheckpointError

from .torchtools import BEST_NAME, POINTER_NAME, latest_checkpoint_path, load_checkpoint

_EPOCH_FILE = re.compile(r"^model\.pth\.tar-(\d+)$")


def epoch_file(model_dir, epoch):
    return os.path.join(model_dir, f"model.pth.tar-{epoch}")


def epoch_files(model_dir):
    """{epoch: path} of the epoch checkpoints in ``model_dir`` (empty when it does not exist)."""
    if not os.path.isdir(model_dir):
        return {}
    found = {}
    for name in os.listdir(model_dir):
        m = _EPOCH_FILE.match(name)
        if m:
            found[int(m.group(1))] = os.path.join(model_dir, name)
    return found


def pointer_epoch(model_dir):
    """The epoch the ``checkpoint`` pointer names, or None when it is missing or names no epoch file."""
    try:
        with open(os.path.join(model_dir, POINTER_NAME)) as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return None
    m = _EPOCH_FILE.match(lines[0]) if lines else None
    return int(m.group(1)) if m else None


def write_pointer(model_dir, epoch):
    from .io import atomic_open

    with atomic_open(os.path.join(model_dir, POINTER_NAME), "w") as f:
        f.write(f"model.pth.tar-{epoch}\n")


def complete_epochs(directory, names):
    """Epochs (newest first) of which every model in ``names`` has a file under ``directory``."""
    per_model = [set(epoch_files(os.path.join(directory, n))) for n in names]
    return sorted(set.intersection(*per_model), reverse=True) if per_model else []


def has_any(directory, names):
    return any(epoch_files(os.path.join(directory, n)) for n in names)


def pointer_notes(directory, names, epoch):
    """Messages on pointers that are missing or disagree with ``epoch``, the epoch a resume takes."""
    pointers = {n: pointer_epoch(os.path.join(directory, n)) for n in names}
    missing = [n for n, e in pointers.items() if e is None]
    notes = []
    if missing:
        notes.append(f"no readable '{POINTER_NAME}' file for {', '.join(missing)}; recovered from the checkpoint "
                     f"files: epoch {epoch} is the newest every model has")
    named = {n: e for n, e in pointers.items() if e is not None}
    if set(named.values()) - {epoch}:
        listed = ", ".join(f"{n}: epoch {e}" for n, e in named.items())
        notes.append(f"the '{POINTER_NAME}' files name {listed}, as a run killed while saving leaves them; every "
                     f"model resumes from epoch {epoch}, the newest epoch of which every model has a checkpoint")
    return notes


def load_newest_readable(directory, names, epochs, log=print):
    """``(epoch, {name: checkpoint})`` for the newest of ``epochs`` whose files all load. An unreadable file
    makes it fall back one epoch, with a message naming both files; when none loads, the newest error is raised."""
    first_error = None
    for i, epoch in enumerate(epochs):
        try:
            return epoch, {n: load_checkpoint(epoch_file(os.path.join(directory, n), epoch)) for n in names}
        except CheckpointError as e:
            first_error = first_error or e
            if i + 1 < len(epochs):
                older = epochs[i + 1]
                log(f"WARNING: {e}. Falling back to the previous checkpoint, epoch {older} "
                    f"({', '.join(epoch_file(os.path.join(directory, n), older) for n in names)})")
    raise first_error


def prune(directory, names, keep):
    """Delete all but the newest ``keep`` epoch files of each model (``keep`` 0: keep all). The file a pointer
    names and ``model-best`` are never deleted."""
    if keep <= 0:
        return
    for name in names:
        model_dir = os.path.join(directory, name)
        files = epoch_files(model_dir)
        protected = {pointer_epoch(model_dir)}
        for epoch in sorted(files, reverse=True)[keep:]:
            if epoch not in protected:
                os.remove(files[epoch])


def checkpoint_to_evaluate(model_dir, epoch=None):
    """``(path, note)``: the file an evaluation of ``model_dir`` loads: epoch ``epoch``, else ``model-best``, else the
    one the pointer names, else (pointer deleted) the newest epoch file, with a note saying so. ``path`` is None when
    there is none; it may name a missing file (the caller says so)."""
    if epoch is not None:
        return epoch_file(model_dir, epoch), ""
    best = os.path.join(model_dir, BEST_NAME)
    if os.path.isfile(best):
        return best, ""
    if os.path.isfile(os.path.join(model_dir, POINTER_NAME)):
        return latest_checkpoint_path(model_dir), ""
    files = epoch_files(model_dir)
    if not files:
        return None, ""
    return files[max(files)], f"{model_dir} has no {POINTER_NAME} file; using the newest epoch file, {files[max(files)]}"


def kept_note(model_dir):
    """Which epochs ``model_dir`` still holds, for a "not found" message."""
    files = sorted(epoch_files(model_dir))
    best = " and " + BEST_NAME if os.path.isfile(os.path.join(model_dir, BEST_NAME)) else ""
    held = ", ".join(map(str, files)) if files else "none"
    return (f"{model_dir} holds epochs {held}{best}; TRAIN.CHECKPOINT_KEEP keeps the newest N epochs "
            "(0 keeps every epoch)")

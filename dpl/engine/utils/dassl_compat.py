"""Reading checkpoints that Dassl wrote (``model.pth.tar-N`` / ``model-best.pth.tar`` of CoOp, CoCoOp, MaPLe, IVLP,
PromptSRC, the official DPL, ...) without running code from the file.

Dassl saves ``{"state_dict", "epoch", "optimizer", "scheduler"[, "val_result"]}`` where ``scheduler`` is a scheduler's
``state_dict()``; with a warm-up that dict holds the successor scheduler *object* (torch's CosineAnnealingLR, holding
the optimizer object), which ``torch.load(weights_only=True)`` refuses. Here those objects are let through an
allow-list of names (torch's optimizers and schedulers, Dassl's own warm-up schedulers and optimizers) that all
unpickle into ``PickledObject``: an inert holder of the pickled attributes, so no code of those classes runs (and
they are never used: evaluation needs the weights only). Any other global makes the load fail with a message naming
the file and the ``--trust-checkpoint`` opt-in, which loads with full unpickling.
"""
import collections
import pickle

import torch

from dpl.errors import CheckpointError

from .torchtools import load_checkpoint

# Classes a Dassl-era checkpoint pickles (inside the scheduler's state): Dassl's optimizers (build_optimizer) and
# schedulers (build_lr_scheduler), torch's and Dassl's own.
PICKLED_CLASSES = (
    "torch.optim.sgd.SGD", "torch.optim.adam.Adam", "torch.optim.adamw.AdamW", "torch.optim.rmsprop.RMSprop",
    "torch.optim.optimizer._RequiredParameter",
    "torch.optim.lr_scheduler.StepLR", "torch.optim.lr_scheduler.MultiStepLR",
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    "dassl.optim.lr_scheduler.ConstantWarmupScheduler", "dassl.optim.lr_scheduler.LinearWarmupScheduler",
    "dassl.optim.radam.RAdam", "dassl.optim.radam.PlainRAdam", "dassl.optim.radam.AdamW",
)
TRUST_HINT = "--trust-checkpoint"


class PickledObject:
    """An optimizer or scheduler object of a Dassl checkpoint, unpickled as its attributes only (nothing runs)."""

    def __repr__(self):
        return f"PickledObject({sorted(self.__dict__)})"


def _plain_dict(default_factory=None):
    """The optimizer's state is a ``defaultdict(dict)``; the weights-only unpickler fills plain dicts only."""
    return {}


# Containers inside those objects: the optimizer's state (defaultdict) and MultiStepLR's milestones (Counter).
_CONTAINERS = [(_plain_dict, "collections.defaultdict"), collections.Counter, dict]


def allowed_globals():
    return [*_CONTAINERS, *((PickledObject, name) for name in PICKLED_CLASSES)]


def _allowed_names():
    return {"collections.defaultdict", "collections.Counter", "builtins.dict", *PICKLED_CLASSES}


def _unpickling_refused(error):
    while error is not None:
        if isinstance(error, pickle.UnpicklingError):
            return True
        error = error.__cause__
    return False


def _foreign_globals(path):
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # an old (non-zip) file: the names cannot be listed without unpickling
        return []
    return [n for n in names if n not in _allowed_names()]


def _refuse_damaged(path):
    """CheckpointError when the checkpoint's pickle is not a valid pickle at all (a hand edit, a bad copy): that is
    damage, not foreign code, and no opt-in would read it."""
    try:
        torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"Checkpoint {path} is damaged: its data.pkl is not a valid pickle ({e}); it was edited "
                              "or copied incompletely. Copy it again from its source, or delete it (or its folder) "
                              "and train again.") from None
    except Exception:  # an old (non-zip) file: its pickle cannot be checked without unpickling it
        pass


def read_checkpoint(path, trust=False):
    """The checkpoint at ``path``: one of this project's (``weights_only=True``), else a Dassl-written one through the
    allow-list, else, with ``trust``, a full unpickling; otherwise a CheckpointError naming the file and the opt-in."""
    try:
        return load_checkpoint(path)
    except CheckpointError as e:
        if not _unpickling_refused(e):
            raise
    map_location = None if torch.cuda.is_available() else "cpu"
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
        print(f"Read {path} as a Dassl-written checkpoint (its pickled optimizer / scheduler objects kept as inert "
              "attribute holders)")
        return checkpoint
    except pickle.UnpicklingError as e:
        refused = e
    _refuse_damaged(path)
    if trust:
        return _load_trusted(path, map_location)
    others = _foreign_globals(path)
    named = f" ({', '.join(others)})" if others else f" ({' '.join(str(refused).split())[:300]})"
    raise CheckpointError(f"Checkpoint {path} holds pickled Python objects that are neither tensors nor the optimizer / "
                          f"scheduler objects Dassl saves{named}; loading it would run code stored in the file. If you "
                          f"trust where it comes from, pass {TRUST_HINT} to train.py to load it with full unpickling.")


def _load_trusted(path, map_location):
    """Full unpickling: only on the user's explicit opt-in (``--trust-checkpoint``), the one load site allowed to
    run code stored in a file (tests/trust lists it)."""
    print(f"Warning: loading {path} with full unpickling ({TRUST_HINT}): it may run code stored in the file")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError, AttributeError, ImportError) as e:
        raise CheckpointError(f"Checkpoint {path} could not be read even with full unpickling ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]}): the file is damaged or needs code this "
                              "environment lacks.") from None

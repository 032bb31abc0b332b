"""Errors a user can act on. ``train.py`` and the scripts print their message as one paragraph and exit non-zero."""
import difflib


class DPLError(Exception):
    """Base class: the message names the file, key or value at fault and what was expected."""


class ConfigError(DPLError):
    pass


class UnknownNameError(DPLError, KeyError):
    """An unknown trainer / dataset / backbone / evaluator name (a KeyError, as Dassl raises)."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(DPLError):
    pass


class BackboneError(DPLError):
    pass


class LayoutError(DPLError):
    pass


class CheckpointError(DPLError):
    pass


class DivergedError(DPLError, FloatingPointError):
    """The training loss became NaN or inf (Dassl raises a bare FloatingPointError; catching that still works)."""


class DiskFullError(DPLError, OSError):
    """A write failed for lack of space (an OSError with ENOSPC / EDQUOT, so callers catching OSError still do)."""

    def __str__(self):
        return str(self.args[1]) if len(self.args) > 1 else super().__str__()


def did_you_mean(name, choices, n=3):
    """`` Did you mean 'A' or 'B'?`` for the names in ``choices`` close to ``name`` (one that differs only in case
    wins outright), or "" when none is close."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if str(name).lower() in lowered:
        close = [lowered[str(name).lower()]]
    else:
        close = difflib.get_close_matches(str(name), choices, n=n, cutoff=0.5)
    return f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ""

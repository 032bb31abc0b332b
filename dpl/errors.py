"""Errors a user can act on. ``train.py`` and the scripts print their message as one paragraph and exit non-zero."""


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

"""Dassl's path for the file helpers; they live in the base layer (dpl/file_io.py) so that the backbones and
prompting need nothing of the engine."""
from dpl.file_io import (atomic_open, atomic_torch_save, listdir_nohidden, mkdir_if_missing, read_json,  # noqa: F401
                         remove_stale_temps, write_json)

"""What DPL's search stage needs beyond its trainer: per-epoch alpha files, layout diagnostics, the plot."""
from .diagnostics import LayoutDiagnostics, diagnose
from .history import alpha_path, load_alpha_history, save_alpha_probabilities
from .plot import plot_search

__all__ = ["LayoutDiagnostics", "diagnose", "alpha_path", "load_alpha_history", "save_alpha_probabilities",
           "plot_search"]

"""DPL: Differentiable Prompt Learning for CLIP, and the CoOp family on a Dassl-compatible engine."""
import warnings

from dpl.clip_import import ensure_pkg_resources

# clip-anytorch imports pkg_resources: where setuptools still has it, it warns on every run; where it is gone
# (setuptools >= 81), a stand-in holding only what clip uses is registered (dpl/clip_import.py).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
ensure_pkg_resources()

__version__ = "0.1.0"

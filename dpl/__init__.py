"""DPL: Differentiable Prompt Learning for CLIP, and the CoOp family on a Dassl-compatible engine."""
import warnings

# clip-anytorch imports pkg_resources, which warns on every run; setuptools<81 is pinned for exactly that.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

__version__ = "0.1.0"

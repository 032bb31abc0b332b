"""DPL: Differentiable Prompt Learning for CLIP, and the CoOp family on a Dassl-compatible engine."""

__version__ = "0.1.0"

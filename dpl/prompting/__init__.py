"""The one prompt mechanism of every trainer: layouts, prompted CLIP encoders, the DPL supernet."""
from .attention import KVMixture, KVPrompt, ReplacePrompt, kv_attention, mixture_attention, naive_mixture_attention
from .encoders import PromptedCLIP
from .layout import BRANCHES, PromptLayout
from .learners import LayerPrompts
from .supernet import Architecture, SearchSpace, supernet_prompts

__all__ = ["PromptLayout", "BRANCHES", "PromptedCLIP", "KVPrompt", "ReplacePrompt", "KVMixture", "LayerPrompts",
           "SearchSpace", "Architecture", "supernet_prompts", "kv_attention", "mixture_attention",
           "naive_mixture_attention"]

"""Fixed-layout prompt parameters: one (k, W) tensor per layer with k > 0 (DPL's train stage, IVLP, VPT...)."""
import torch
import torch.nn as nn

from .attention import KVPrompt, ReplacePrompt

KINDS = {"kv": KVPrompt, "replace": ReplacePrompt}


class LayerPrompts(nn.Module):
    """Parameters ``vision.<layer>`` / ``text.<layer>`` of shape (layout length, width), N(0, std) init;
    a zero-length layer gets no parameter (and ``None`` in the per-layer lists)."""

    def __init__(self, layout, vision_width, text_width, kind="kv", std=0.02, dtype=torch.float32):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"LayerPrompts kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.layout = layout
        self.num_layers = {"vision": len(layout.vision), "text": len(layout.text)}
        for branch, lengths, width in (("vision", layout.vision, vision_width), ("text", layout.text, text_width)):
            params = nn.ParameterDict()
            for layer, k in enumerate(lengths):
                if k > 0:
                    p = torch.empty(k, width, dtype=dtype)
                    nn.init.normal_(p, std=std)
                    params[str(layer)] = nn.Parameter(p)
            setattr(self, branch, params)

    def _prompts(self, branch):
        params, wrap = getattr(self, branch), KINDS[self.kind]
        return [wrap(params[str(l)]) if str(l) in params else None for l in range(self.num_layers[branch])]

    def vision_prompts(self):
        return self._prompts("vision")

    def text_prompts(self):
        return self._prompts("text")

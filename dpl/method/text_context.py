"""A learned context at the text input, shared by CoCoOp and the deep-prompt learners (IVLP, MaPLe, PromptSRC).

Each class prompt is ``[start] [ctx_1 .. ctx_k] [frozen words] [class name] . [EOT]``. With an initialisation
such as "a photo of a" and k no longer than it, the context starts as the first k words' embeddings and the
rest of the initialisation stays as frozen words (k=2: "[a photo] of a cat."), as MaPLe/IVLP do; otherwise the
context is random N(0, 0.02) and there are no frozen words.
"""
import torch
import torch.nn as nn

from dpl.errors import ConfigError
from dpl.method.text import clean_classname, context_init_embedding, prompt_inputs


class TextContext(nn.Module):
    """Learned ``ctx`` (k, W) plus the frozen token embeddings around it for every class.

    Only ``ctx`` is saved; the class-dependent buffers are rebuilt from the class names, so a context trained
    on base classes loads onto any other class list.
    """

    def __init__(self, clip_model, classnames, n_ctx=None, ctx_init="", node="TRAINER"):
        super().__init__()
        init = context_init_embedding(clip_model, ctx_init) if ctx_init else None
        if n_ctx is None:
            if init is None:
                raise ConfigError(f"{node}: give N_CTX or CTX_INIT (both are empty)")
            n_ctx = len(init)
        if init is not None and n_ctx <= len(init):
            ctx, lead = init[:n_ctx].clone(), ctx_init.replace("_", " ").strip()
            shown = f'"{lead}" (first {n_ctx} tokens learned)'
        else:
            if init is not None:
                print(f"CTX_INIT {ctx_init!r} has {len(init)} tokens, fewer than the {n_ctx} context tokens: "
                      "random initialisation")
            ctx = torch.empty(n_ctx, clip_model.text_width)
            nn.init.normal_(ctx, std=0.02)
            lead = " ".join(["X"] * n_ctx)
            shown = f'"{lead}" (random)'
        print(f"Text context: {shown}, {n_ctx} tokens")
        self.n_ctx = n_ctx
        self.random_init = init is None or n_ctx > len(init)  # drawn, not copied from word embeddings
        self.ctx = nn.Parameter(ctx.to(clip_model.dtype))
        texts = [f"{lead} {clean_classname(c)}.".strip() for c in classnames]
        embedding, eot, _ = prompt_inputs(clip_model, texts)
        self.register_buffer("start", embedding[:, :1], persistent=False)
        self.register_buffer("rest", embedding[:, 1 + n_ctx:], persistent=False)
        self.register_buffer("eot_index", eot, persistent=False)

    @property
    def num_classes(self):
        return self.start.shape[0]

    def embeddings(self, ctx=None):
        """(C, L, W) input embeddings of every class prompt; ``ctx`` (k, W) replaces the learned context
        (CoCoOp passes its image-conditioned context)."""
        ctx = self.ctx if ctx is None else ctx
        ctx = ctx.to(self.start.dtype).unsqueeze(0).expand(self.num_classes, -1, -1)
        return torch.cat([self.start, ctx, self.rest], dim=1)

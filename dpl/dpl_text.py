"""DPL's fixed text input: token embeddings of one prompt per class (no learned input context).

``"ensemble"`` averages the token embeddings of every ImageNet template. Templates differ in length, so a
plain position-wise mean (the official code) mixes the end-of-text token with words and padding and reads
the feature at one template's EOT. Here every template is right-aligned so that all EOT tokens land on
one position (the longest template's), and each content position averages only the templates that have a
word there: the feature is read at a real EOT embedding and no padding token leaks into the sequence.
"""
import torch

from dpl.templates import IMAGENET_TEMPLATES
from dpl.text import class_prompt_inputs, eot_index, fill_template, tokenize

DEFAULT_TEMPLATE = "a photo of a {}."


def template_for(ctx_init, key="TRAINER.DPL.CTX_INIT"):
    """``"default"`` -> "a photo of a {}.", any string with ``{}`` -> itself ("ensemble" is handled apart)."""
    if ctx_init == "default":
        return DEFAULT_TEMPLATE
    if "{}" not in ctx_init:
        from dpl.errors import ConfigError
        raise ConfigError(f'{key} is {ctx_init!r}; expected "ensemble", "default" or a template with "{{}}" '
                          'where the class name goes (e.g. "a photo of a {}, a type of pet.")')
    return ctx_init


@torch.no_grad()
def ensemble_text_input(clip_model, classnames, templates=IMAGENET_TEMPLATES):
    """(C, L, W) mean token embeddings over ``templates`` with the EOTs aligned, and the EOT index (C,).

    One template's embeddings are in memory at a time (80 x ImageNet's 1000 classes would not fit at once).
    """
    device = clip_model.logit_scale.device
    # Tokenized once (CLIP's tokenizer is pure Python: 80 x C prompts); embedded one template at a time.
    tokens_all = [tokenize(clip_model, [fill_template(t, c) for c in classnames]) for t in templates]
    eot_all = torch.stack([eot_index(tokens) for tokens in tokens_all]).to(device)
    target = eot_all.max(dim=0).values  # (C,) common EOT position: the longest template's
    total = count = None
    for tokens, eot in zip(tokens_all, eot_all):
        emb = clip_model.token_embedding(tokens.to(device))
        if total is None:
            n_cls, length, width = emb.shape
            total = torch.zeros(n_cls, length, width, dtype=torch.float32, device=device)
            count = torch.zeros(n_cls, length, 1, dtype=torch.float32, device=device)
            start, pad = emb[:, :1].float(), emb[:, -1:].float()  # start token; padding (token 0)
        for c, (e, s) in enumerate(zip(eot.tolist(), (target - eot).tolist())):
            total[c, 1 + s:e + s + 1] += emb[c, 1:e + 1].float()  # words and EOT move s to the right
            count[c, 1 + s:e + s + 1] += 1
    positions = torch.arange(length, device=device)
    after_eot = positions.view(1, -1, 1) > target.view(-1, 1, 1)
    mean = torch.where(count > 0, total / count.clamp(min=1), pad.expand(-1, length, -1))
    mean[:, :1] = start
    mean = torch.where(after_eot, pad.expand(-1, length, -1), mean)
    return mean.to(clip_model.dtype), target


@torch.no_grad()
def class_text_input(clip_model, classnames, ctx_init, key="TRAINER.DPL.CTX_INIT"):
    """Token embeddings (C, L, W) and EOT positions (C,) of the class prompts for ``ctx_init``."""
    if ctx_init == "ensemble":
        return ensemble_text_input(clip_model, classnames)
    emb, eot, _ = class_prompt_inputs(clip_model, classnames, template_for(ctx_init, key))
    return emb, eot

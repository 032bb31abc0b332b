"""DPL's fixed text input: token embeddings of one prompt per class (no learned input context).

``TRAINER.DPL.CTX_INIT`` choices:
- ``"ensemble"`` (the official code, the default): the position-wise mean of the token embeddings of the class
  prompt over the 60 templates of ``IMAGENET_TEMPLATES_60``, read at the end-of-text position of the *last*
  template. Templates differ in length, so each position mixes words, end-of-text tokens and padding.
- ``"ensemble_aligned"``: every one of CLIP's 80 templates right-aligned so that all end-of-text tokens land on one
  position (the longest template's); each content position averages only the templates with a word there, the
  feature is read at a real end-of-text embedding and no padding leaks into the sequence.
- ``"default"``: "a photo of a {}."; any string with ``{}``: that template.
"""
import torch

from dpl.method.templates import IMAGENET_TEMPLATES, IMAGENET_TEMPLATES_60
from dpl.method.text import class_prompt_inputs, eot_index, fill_template, tokenize

DEFAULT_TEMPLATE = "a photo of a {}."
CHOICES = ("ensemble", "ensemble_aligned", "default")


def template_for(ctx_init, key="TRAINER.DPL.CTX_INIT"):
    """``"default"`` -> "a photo of a {}.", any string with ``{}`` -> itself (the ensembles are handled apart)."""
    if ctx_init == "default":
        return DEFAULT_TEMPLATE
    if "{}" not in ctx_init:
        from dpl.errors import ConfigError
        raise ConfigError(f'{key} is {ctx_init!r}; expected one of {", ".join(CHOICES)} or a template with "{{}}" '
                          'where the class name goes (e.g. "a photo of a {}, a type of pet.")')
    return ctx_init


def _tokens(clip_model, classnames, templates):
    # CLIP's tokenizer is pure Python: tokenize the T x C prompts once, embed one template at a time
    # (all at once would not fit for ImageNet's 1000 classes).
    return [tokenize(clip_model, [fill_template(t, c) for c in classnames]) for t in templates]


@torch.no_grad()
def official_ensemble_text_input(clip_model, classnames, templates=IMAGENET_TEMPLATES_60):
    """(C, L, W) position-wise mean of the token embeddings over ``templates`` (each embedding in CLIP's dtype, as
    the official code rounds them before averaging) and the EOT index (C,) of the last template."""
    device = clip_model.logit_scale.device
    total = None
    tokens_all = _tokens(clip_model, classnames, templates)
    for tokens in tokens_all:
        emb = clip_model.token_embedding(tokens.to(device)).type(clip_model.dtype).float()
        total = emb if total is None else total.add_(emb)
    return (total / len(templates)).to(clip_model.dtype), eot_index(tokens_all[-1]).to(device)


@torch.no_grad()
def aligned_ensemble_text_input(clip_model, classnames, templates=IMAGENET_TEMPLATES):
    """(C, L, W) mean token embeddings over ``templates`` with the EOTs aligned, and the EOT index (C,)."""
    device = clip_model.logit_scale.device
    tokens_all = _tokens(clip_model, classnames, templates)
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
        return official_ensemble_text_input(clip_model, classnames)
    if ctx_init == "ensemble_aligned":
        return aligned_ensemble_text_input(clip_model, classnames)
    emb, eot, _ = class_prompt_inputs(clip_model, classnames, template_for(ctx_init, key))
    return emb, eot

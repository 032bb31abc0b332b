"""Text-side helpers every trainer shares: tokenizing class prompts and building their token embeddings."""
import copy

import torch
import torch.nn.functional as F

from dpl.errors import ConfigError


def clean_classname(name):
    return name.replace("_", " ")


def fill_template(template, classname):
    if "{}" not in template:
        raise ConfigError(f'Prompt template {template!r} has no "{{}}" where the class name goes')
    return template.format(clean_classname(classname))


def tokenize(clip_model, texts):
    """Tokens (N, context length) from the backbone's own tokenizer (``clip_model`` a PromptedCLIP); a prompt longer
    than the context is an error, not a silent cut. Tokenizing one position longer shows a cut whatever the
    tokenizer does with it (OpenAI's raises, open_clip's truncates): a fitting prompt leaves that position padding."""
    texts, limit = list(texts), clip_model.context_length
    try:
        tokens = clip_model.tokenizer(texts, context_length=limit + 1)
    except RuntimeError as e:
        tokens, error = None, e
    if tokens is None or bool((tokens[:, limit] != 0).any()):
        too_long = [t for i, t in enumerate(texts) if tokens is None or tokens[i, limit] != 0]
        longest = max(too_long, key=len)
        detail = f": {error}" if tokens is None else ""
        raise ConfigError(f"A prompt is too long for the text encoder's context of {limit} tokens "
                          f"(longest: {longest[:120]!r}){detail}") from None
    return tokens[:, :limit]


def eot_index(tokens):
    """Position of the end-of-text token: CLIP's EOT has the largest token id."""
    return tokens.argmax(dim=-1)


@torch.no_grad()
def prompt_inputs(clip_model, texts):
    """Token embeddings (C, L, W), EOT positions (C,) and tokens (C, L) for finished prompt strings."""
    device = clip_model.logit_scale.device
    tokens = tokenize(clip_model, texts).to(device)
    return clip_model.token_embedding(tokens).type(clip_model.dtype), eot_index(tokens), tokens


def class_prompt_inputs(clip_model, classnames, template):
    return prompt_inputs(clip_model, [fill_template(template, c) for c in classnames])


def _class_features(clip_model, classnames, template, batch_size):
    """Frozen CLIP's raw text features (C, D) of one template, ``batch_size`` classes at a time."""
    emb, eot, _ = class_prompt_inputs(clip_model, classnames, template)
    return torch.cat([clip_model.encode_text(emb[i:i + batch_size], eot[i:i + batch_size])
                      for i in range(0, len(classnames), batch_size)]).float()


@torch.no_grad()
def zero_shot_text_features(clip_model, classnames, templates, batch_size=256):
    """Frozen CLIP's normalised class features; several templates are ensembled as in CLIP's notebook
    (normalise per template, average, normalise again)."""
    if isinstance(templates, str):
        templates = [templates]
    if len(templates) == 1:  # one template: normalised once, as CLIP's zero-shot and the official VPT do
        return F.normalize(_class_features(clip_model, classnames, templates[0], batch_size), dim=-1)
    total = 0
    for template in templates:
        total = total + F.normalize(_class_features(clip_model, classnames, template, batch_size), dim=-1)
    return F.normalize(total / len(templates), dim=-1)


@torch.no_grad()
def mean_text_features(clip_model, classnames, templates, batch_size=256):
    """Normalised mean of frozen CLIP's *raw* text features over ``templates``, computed in fp32 whatever the
    model's precision: PromptSRC's frozen text target as its official code computes it (it builds an fp32 copy of
    CLIP, takes ``torch.mean`` of the per-template features, then normalises). ``clip_model``: a PromptedCLIP."""
    from dpl.prompting import PromptedCLIP

    if clip_model.dtype != torch.float32:
        clip_model = PromptedCLIP(copy.deepcopy(clip_model.model).float(), tokenizer=clip_model.tokenizer,
                                  full_text_context=clip_model.full_text_context)
    # torch.mean over a template axis, as the official ``torch.cat(per-template features, dim=1).mean(dim=1)``
    features = torch.stack([_class_features(clip_model, classnames, t, batch_size) for t in templates], dim=1)
    return F.normalize(features.mean(dim=1), dim=-1)


def context_init_embedding(clip_model, ctx_init):
    """Embeddings of the words of a context initialisation such as "a photo of a" -> (n_words_tokens, W)."""
    text = ctx_init.replace("_", " ").strip()
    emb, eot, _ = prompt_inputs(clip_model, [text])
    return emb[0, 1:int(eot[0])].clone()

"""Logits of the deep-prompt baselines written from the official codebases' recipe (CoOp's TextEncoder, MaPLe's
repository's VisionTransformer / ResidualAttentionBlock_IVLP / _MaPLe), over the stock CLIP blocks, with none of
dpl.prompting: the reference for the fp16 equivalence tests. In fp16 the official code builds the class prompts
from token embeddings cast to CLIP's dtype, casts every prompt with ``.half()`` where it enters the sequence, and
normalises and multiplies features in fp16."""
import clip
import torch


def class_prompt_pieces(stock, classnames, prompt_prefix, n_ctx):
    """(prefix, suffix, tokens) of ``"<prompt_prefix> <name>."``: the start token and everything after the context."""
    names = [c.replace("_", " ") for c in classnames]
    tokens = torch.cat([clip.tokenize(f"{prompt_prefix} {n}.") for n in names])
    with torch.no_grad():
        embedding = stock.token_embedding(tokens).type(stock.dtype)
    return embedding[:, :1], embedding[:, 1 + n_ctx:], tokens


def image_features(stock, images, shallow=None, deep=None):
    """VisionTransformer (IVLP / MaPLe variant): ``shallow`` (n, W) appended after the positional embedding, ``deep``
    {layer: (n, W)} replacing the last n tokens before that layer."""
    v, deep = stock.visual, deep or {}
    x = v.conv1(images.type(stock.dtype))
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = v.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
    x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
    if shallow is not None:
        x = torch.cat([x, shallow.expand(x.shape[0], -1, -1).half()], dim=1)
    x = v.ln_pre(x).permute(1, 0, 2)
    for i, block in enumerate(v.transformer.resblocks):
        if i > 0 and i in deep:
            ctx = deep[i]
            x = torch.cat([x[:x.shape[0] - ctx.shape[0]], ctx.expand(x.shape[1], -1, -1).permute(1, 0, 2).half()])
        x = block(x)
    x = v.ln_post(x.permute(1, 0, 2)[:, 0, :])
    return x @ v.proj


def text_features(stock, prompts, tokens, deep=None):
    """TextEncoder: ``prompts`` (C, L, W) input embeddings; ``deep`` {layer: (n, W)} replacing tokens 1..n."""
    deep = deep or {}
    x = (prompts + stock.positional_embedding.type(stock.dtype)).permute(1, 0, 2)
    for i, block in enumerate(stock.transformer.resblocks):
        if i > 0 and i in deep:
            ctx = deep[i]
            x = torch.cat([x[:1], ctx.expand(x.shape[1], -1, -1).permute(1, 0, 2).half(), x[1 + ctx.shape[0]:]])
        x = block(x)
    x = stock.ln_final(x.permute(1, 0, 2)).type(stock.dtype)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ stock.text_projection


def logits(stock, image_feats, text_feats):
    image_feats = image_feats / image_feats.norm(dim=-1, keepdim=True)
    text_feats = text_feats / text_feats.norm(dim=-1, keepdim=True)
    return stock.logit_scale.exp() * image_feats @ text_feats.t()

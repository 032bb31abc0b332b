"""Self-attention of a stock CLIP block (``nn.MultiheadAttention``, seq-first ``(L, B, W)``) with extra
key/value prompt tokens, and the DPL supernet's mixture over candidate prompt lengths.

The per-layer prompt entries are plain containers; ``encoders.py`` dispatches on their type.

Fused mixture (exact): every candidate shares the query and x's keys/values, so with ``s_x``/``s_k`` the
scaled scores of x's keys and of candidate k's prompt keys, ``lse_x``/``lse_k`` their log-sum-exps and
``o_x``/``o_k`` the softmax-weighted values, attention over ``[x; P_k]`` is ``o_x (1 - p_k) + p_k o_k`` with
``p_k = sigmoid(lse_k - lse_x)``. The weighted sum over candidates is then one attention over x plus one
small score block over all candidates' (concatenated) prompt keys, and one output projection.
"""
import torch
import torch.nn.functional as F
import torch.utils.checkpoint

from .fused import cast, mixture_core, segments, stats_dtype


class KVPrompt:
    """DPL's prompt: ``tokens`` (k, W) or (B, k, W) become extra keys and values of the layer's attention."""

    def __init__(self, tokens):
        self.tokens = tokens

    def __len__(self):
        return 0 if self.tokens is None else int(self.tokens.shape[-2])


class ReplacePrompt:
    """Deep prompt that travels with the sequence (IVLP / VPT / MaPLe): replaces the current prompt block."""

    def __init__(self, tokens):
        self.tokens = tokens

    def __len__(self):
        return int(self.tokens.shape[-2])


class KVMixture:
    """Supernet layer: ``weights`` (N+1,) over lengths 0..N, ``candidates[k-1]`` the prompt of length k.
    ``naive=True`` computes one attention per candidate (a reference and a debug path); ``recompute=True``
    recomputes the fused scores in the backward pass instead of keeping them (less memory)."""

    def __init__(self, candidates, weights, naive=False, recompute=False):
        self.candidates = list(candidates)
        self.weights = weights
        self.naive = naive
        self.recompute = recompute
        if weights.shape[-1] != len(self.candidates) + 1:
            raise ValueError(f"KVMixture: {weights.shape[-1]} weights for {len(self.candidates)} candidates; "
                             "expected one weight per candidate plus one for length 0")


# ---- layout helpers ----------------------------------------------------------------------------------------
# Every operator here is also a node of the backward pass, and on a GPU at batch 4 each is a launch the CPU has to
# issue: heads are split with one view + one permute per projection, and casts to the dtype a tensor already has
# are skipped (``cast``).
def _heads(projected, parts, heads):
    """Batch-first (B, S, parts * W), or (S, parts * W) for a batch of one -> ``parts`` tensors (B or 1, H, S, d)."""
    *lead, s, pw = projected.shape
    n = lead[0] if lead else 1
    w = pw // parts
    return projected.view(n, s, parts, heads, w // heads).permute(2, 0, 3, 1, 4).unbind(0)


def _merge_heads(o):
    """(B, H, L, d) -> (L, B, W)."""
    b, h, l, d = o.shape
    return o.permute(2, 0, 1, 3).reshape(l, b, h * d)


def _qkv(attn, x_ln):
    """Queries, keys and values of seq-first ``x_ln`` (L, B, W), each (B, H, L, d)."""
    l, b, w = x_ln.shape
    heads = attn.num_heads
    qkv = F.linear(x_ln, attn.in_proj_weight, attn.in_proj_bias).view(l, b, 3, heads, w // heads)
    return qkv.permute(2, 1, 3, 0, 4).unbind(0)


def _kv_projection(attn, width):
    """The key and value rows of ``attn``'s input projection (weight, bias). While the weight is frozen the two
    views are kept on the module (two slicing operators per layer and pass saved); a weight that requires
    gradients, or was replaced or changed in place since, gets fresh views."""
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    if weight.requires_grad or (bias is not None and bias.requires_grad):
        return weight[width:], None if bias is None else bias[width:]
    try:
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device, width,
               None if bias is None else (bias.data_ptr(), bias._version))
    except RuntimeError:  # inference tensors keep no version counter
        return weight[width:], None if bias is None else bias[width:]
    cached = attn.__dict__.get("_dpl_kv_projection")
    if cached is None or cached[0] != key:
        cached = (key, (weight[width:], None if bias is None else bias[width:]))
        attn.__dict__["_dpl_kv_projection"] = cached
    return cached[1]


def _prompt_kv(attn, ln, tokens, like):
    """Keys and values of prompt tokens (k, W) or (B, k, W), layer-normed by the block's ``ln_1`` like x:
    (1 or B, H, k, d) each."""
    weight, bias = _kv_projection(attn, like.shape[-1])
    kv = F.linear(ln(cast(tokens, like.dtype)), weight, bias)
    return _heads(kv, 2, attn.num_heads)


def _out(attn, o):
    return F.linear(_merge_heads(o), attn.out_proj.weight, attn.out_proj.bias)


def _check_batch(prompt, batch):
    if prompt.shape[0] not in (1, batch):
        raise ValueError(f"per-sample prompts have batch {prompt.shape[0]} but the input has batch {batch}")
    return prompt.expand(batch, -1, -1, -1)


# ---- fixed prompts -----------------------------------------------------------------------------------------
def kv_attention(attn, ln, x_ln, tokens=None, mask=None):
    """MHA(query=x_ln, key=value=[x_ln; ln(tokens)]) with ``attn``'s weights. ``x_ln`` (L, B, W) is ln(x);
    ``mask`` (L, L) additive (the text's causal mask); prompt keys are visible to every query."""
    q, k, v = _qkv(attn, x_ln)
    if tokens is not None and tokens.shape[-2] > 0:
        kp, vp = _prompt_kv(attn, ln, tokens, x_ln)
        batch = q.shape[0]
        k = torch.cat([k, cast(_check_batch(kp, batch), k.dtype)], dim=2)
        v = torch.cat([v, cast(_check_batch(vp, batch), v.dtype)], dim=2)
        if mask is not None:
            mask = torch.cat([mask, mask.new_zeros(mask.shape[0], tokens.shape[-2])], dim=1)
    if mask is not None:
        mask = mask.to(dtype=q.dtype, device=q.device)
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return _out(attn, o)


# ---- supernet mixture ----------------------------------------------------------------------------------------
def mixture_attention(attn, ln, x_ln, candidates, weights, mask=None, recompute=False):
    """sum_k weights[k] * MHA(x_ln, [x_ln; ln(P_k)]) (weights[0]: no prompt), fused and exact.

    Softmax statistics are kept in float32 whatever the input precision. ``recompute``: keep only the heads for
    the backward pass and recompute the score matrices there (activation checkpointing of the attention core):
    the (B, H, L, L) float32 scores are then never held across the whole network."""
    nonempty = [(i + 1, c) for i, c in enumerate(candidates) if c.shape[-2] > 0]
    w = cast(weights, stats_dtype(weights.dtype))
    if not nonempty:
        return cast(w.sum(), x_ln.dtype) * kv_attention(attn, ln, x_ln, None, mask)
    q, k, v = _qkv(attn, x_ln)
    q = q * (q.shape[-1] ** -0.5)
    sizes = tuple(int(c.shape[-2]) for _, c in nonempty)
    segs = segments(tuple(i for i, _ in nonempty), sizes, w.device)
    kp, vp = _prompt_kv(attn, ln, torch.cat([c for _, c in nonempty], dim=-2), x_ln)
    if recompute and torch.is_grad_enabled():
        o = torch.utils.checkpoint.checkpoint(mixture_core, q, k, v, kp, vp, w, mask, segs, use_reentrant=False)
    else:
        o = mixture_core(q, k, v, kp, vp, w, mask, segs)
    return _out(attn, o)


def naive_mixture_attention(attn, ln, x_ln, candidates, weights, mask=None):
    """The same mixture written plainly: one full attention per candidate length (N+1 attentions)."""
    out = weights[0].to(x_ln.dtype) * kv_attention(attn, ln, x_ln, None, mask)
    for i, tokens in enumerate(candidates):
        out = out + weights[i + 1].to(x_ln.dtype) * kv_attention(attn, ln, x_ln, tokens, mask)
    return out


def prompted_attention(attn, ln, x_ln, entry, mask=None):
    """Attention output of a block for a ``KVPrompt`` or ``KVMixture`` entry."""
    if isinstance(entry, KVMixture):
        if entry.naive:
            return naive_mixture_attention(attn, ln, x_ln, entry.candidates, entry.weights, mask)
        return mixture_attention(attn, ln, x_ln, entry.candidates, entry.weights, mask, recompute=entry.recompute)
    if isinstance(entry, KVPrompt):
        return kv_attention(attn, ln, x_ln, entry.tokens, mask)
    raise TypeError(f"no attention variant for a prompt entry of type {type(entry).__name__}")

"""The fused supernet mixture at the level of attention heads (``attention.mixture_attention`` wraps it).

Every candidate k of a layer shares the query and the keys/values of x; with ``lse_x`` / ``lse_k`` the
log-sum-exps of the scaled scores of x's keys and of candidate k's prompt keys and ``o_x`` / ``o_k`` the
softmax-weighted values, attention over ``[x; P_k]`` is ``o_x (1 - p_k) + p_k o_k`` with ``p_k = sigmoid(lse_k -
lse_x)``. The mixture ``sum_k w_k attn([x; P_k])`` is then one attention over x that also returns ``lse_x``
(``attention_with_lse``) plus a small block over all candidates' concatenated prompt keys, whose per-candidate
sums are products with a 0/1 segment matrix (no scatter in the backward pass).
"""
import functools

import torch


def cast(t, dtype):
    """``t.to(dtype)``, without an operator call (and a backward node) when ``t`` already has that dtype."""
    return t if t.dtype == dtype else t.to(dtype)


def stats_dtype(dtype):
    """Softmax statistics run in float32, or in the input's dtype when that is wider (float64). Decided in Python:
    ``torch.promote_types`` is an operator call."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class _AttentionWithLSE(torch.autograd.Function):
    """``softmax(q k^T + mask) v`` and the row log-sum-exp of the scores, differentiable in both outputs.

    Only the probabilities are kept for the backward pass (not the scores as well); the backward uses the
    identity ``sum_j P_ij dP_ij = dO_i . O_i`` and folds the log-sum-exp's gradient into the same term:
    ``dS = P * (dP - (dO . O) + dLSE)``. Scores and probabilities are float32; the products with ``v`` run in
    ``v``'s dtype (as the plain formula does)."""

    @staticmethod
    def forward(ctx, q, k, v, mask):
        scores = cast(torch.matmul(q, k.transpose(-1, -2)), stats_dtype(q.dtype))
        if mask is not None:
            mask = mask if mask.device == scores.device else mask.to(scores.device)
            scores = scores + cast(mask, scores.dtype)
        lse = torch.logsumexp(scores, dim=-1, keepdim=True)
        probs = scores.sub_(lse).exp_()  # in place: the scores are not needed again
        out = torch.matmul(cast(probs, v.dtype), v)
        ctx.save_for_backward(q, k, v, probs, out)
        return out, lse

    @staticmethod
    def backward(ctx, d_out, d_lse):
        q, k, v, probs, out = ctx.saved_tensors  # an unused output's gradient arrives as zeros (materialised)
        d_v = torch.matmul(cast(probs.transpose(-1, -2), d_out.dtype), d_out)
        d_scores = cast(torch.matmul(d_out, v.transpose(-1, -2)), probs.dtype)
        shift = (cast(d_out, probs.dtype) * cast(out, probs.dtype)).sum(dim=-1, keepdim=True)
        if d_lse is not None:
            shift = shift - d_lse
        d_scores.sub_(shift).mul_(probs)
        d_scores = cast(d_scores, q.dtype)
        return torch.matmul(d_scores, k), torch.matmul(d_scores.transpose(-1, -2), q), d_v, None


def attention_with_lse(q, k, v, mask=None):
    """(``out`` (B, H, L, d) in v's dtype, ``lse`` (B, H, L, 1) float32 or wider) for scaled queries ``q``."""
    with torch.autocast(q.device.type, enabled=False):  # dtypes are explicit inside
        return _AttentionWithLSE.apply(q, k, v, mask)


@functools.lru_cache(maxsize=64)
def segments(positions, sizes, device):
    """Candidates at ``positions`` (1-based, into the weights) of ``sizes`` tokens, concatenated into one block of S
    keys: ``pick`` their weights (a slice when the positions are consecutive, as in the search, else an index),
    ``member`` (S, n) float 0/1 (key j belongs to candidate i) and its transpose ``owner`` (n, S), ``grid`` (n * longest)
    indices into the block, each candidate's row padded with its own first key (a repeat leaves its max as it is),
    and ``longest``. Cached per device: built once, not per layer call."""
    longest, total = max(sizes), sum(sizes)
    grid, member, start = [], torch.zeros(total, len(sizes)), 0
    for i, n in enumerate(sizes):
        grid += list(range(start, start + n)) + [start] * (longest - n)
        member[start:start + n, i] = 1.0
        start += n
    consecutive = list(positions) == list(range(positions[0], positions[0] + len(positions)))
    pick = slice(positions[0], positions[0] + len(positions)) if consecutive else torch.tensor(positions,
                                                                                                 device=device)
    member = member.to(device)
    return pick, member, member.t().contiguous(), torch.tensor(grid, device=device), longest


def mixture_core(q, k, v, kp, vp, w, mask, segs):
    """``sum_k w[k] attn(q, [k; kp_k], [v; vp_k])`` (w[0]: x alone) for scaled ``q`` (B, H, L, d) and all candidates'
    prompt keys / values ``kp``, ``vp`` (1 or B, H, S, d), concatenated as ``segs`` says. Returns (B, H, L, d)."""
    pick, member, owner, grid, longest = segs
    o_x, lse_x = attention_with_lse(q, k, v, mask)
    s_p = cast(torch.matmul(q, cast(kp, q.dtype).transpose(-1, -2)), lse_x.dtype)  # (B, H, L, S)
    member, owner, w = cast(member, s_p.dtype), cast(owner, s_p.dtype), cast(w, s_p.dtype)
    with torch.no_grad():  # each candidate's own max: a constant shift that keeps its log-sum-exp exact
        top = s_p[..., grid].unflatten(-1, (owner.shape[0], longest)).amax(dim=-1)  # (B, H, L, n)
        shift = torch.matmul(top, owner)  # each key's candidate max, (B, H, L, S)
    e = torch.exp(s_p - shift)
    sums = torch.matmul(e, member)  # (B, H, L, n)
    lse_k = top + torch.log(sums)
    coef = w[pick] * torch.sigmoid(lse_k - lse_x)  # w_k p_k
    probs_p = e * torch.matmul(coef / sums, owner)  # w_k p_k softmax over candidate k's keys
    keep_x = cast(w.sum() - coef.sum(dim=-1, keepdim=True), o_x.dtype)
    return o_x * keep_x + torch.matmul(cast(probs_p, vp.dtype), vp)

"""The pieces of the fused mixture against their plain definitions (float64, gradcheck)."""
import pytest
import torch

from dpl.prompting.fused import _AttentionWithLSE, attention_with_lse, mixture_core, segments, stats_dtype


def _heads(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)


def test_attention_with_lse_is_softmax_attention_and_logsumexp():
    q, k, v = _heads(2, 3, 5, 4, seed=0), _heads(2, 3, 5, 4, seed=1), _heads(2, 3, 5, 4, seed=2)
    mask = torch.triu(torch.full((5, 5), float("-inf")), 1)
    out, lse = attention_with_lse(q, k, v, mask)
    scores = q @ k.transpose(-1, -2) + mask
    assert torch.allclose(out, torch.softmax(scores, -1).to(v.dtype) @ v)
    assert torch.allclose(lse.double(), torch.logsumexp(scores, -1, keepdim=True))


def test_attention_with_lse_gradients():
    q, k, v = _heads(1, 2, 4, 3, seed=3), _heads(1, 2, 6, 3, seed=4), _heads(1, 2, 6, 3, seed=5)

    def both(q, k, v):
        out, lse = attention_with_lse(q, k, v)
        return out, lse
    assert torch.autograd.gradcheck(both, (q, k, v))


def test_mixture_core_equals_per_candidate_attentions():
    b, h, l, d, n = 2, 2, 5, 4, 3
    q, k, v = _heads(b, h, l, d, seed=6), _heads(b, h, l, d, seed=7), _heads(b, h, l, d, seed=8)
    sizes = (1, 2, 3)
    kp, vp = _heads(1, h, sum(sizes), d, seed=9), _heads(1, h, sum(sizes), d, seed=10)
    w = torch.softmax(_heads(n + 1, seed=11), 0)
    fused = mixture_core(q, k, v, kp, vp, w, None, segments((1, 2, 3), sizes, torch.device("cpu")))
    ref, start = w[0] * torch.softmax(q @ k.transpose(-1, -2), -1) @ v, 0
    for i, size in enumerate(sizes):
        keys = torch.cat([k, kp[..., start:start + size, :].expand(b, -1, -1, -1)], dim=2)
        values = torch.cat([v, vp[..., start:start + size, :].expand(b, -1, -1, -1)], dim=2)
        ref = ref + w[i + 1] * torch.softmax(q @ keys.transpose(-1, -2), -1) @ values
        start += size
    assert torch.allclose(fused, ref, atol=1e-6)
    probe = torch.randn_like(ref)
    grads = torch.autograd.grad((fused * probe).sum(), (q, k, v, kp, vp, w))
    ref_grads = torch.autograd.grad((ref * probe).sum(), (q, k, v, kp, vp, w))
    for a, r in zip(grads, ref_grads):
        assert torch.allclose(a, r, atol=1e-5)


@pytest.mark.parametrize("dtype, gap", [(torch.float64, 1000.0), (torch.float32, 150.0)], ids=["float64", "float32"])
def test_a_candidate_far_below_another_keeps_its_weight(dtype, gap):
    """Each candidate's log-sum-exp is shifted by its own max: scores further apart than exp's range (float64:
    ~745, float32: ~103) do not underflow one of them."""
    q = torch.ones(1, 1, 1, 1, dtype=dtype)
    k = torch.full((1, 1, 1, 1), -2 * gap, dtype=dtype)  # x's score: both candidates dominate it
    kp = torch.tensor([-gap, 0.0, 0.0], dtype=dtype).view(1, 1, 3, 1)
    v = torch.zeros(1, 1, 1, 1, dtype=dtype)
    vp = torch.tensor([1.0, 10.0, 10.0], dtype=dtype).view(1, 1, 3, 1)
    w = torch.tensor([0.0, 0.5, 0.5], dtype=dtype)
    out = mixture_core(q, k, v, kp, vp, w, None, segments((1, 2), (1, 2), torch.device("cpu")))
    assert torch.allclose(out, torch.tensor(0.5 * 1.0 + 0.5 * 10.0, dtype=dtype))


@pytest.mark.parametrize("dtype, stats", [(torch.float16, torch.float32), (torch.bfloat16, torch.float32),
                                          (torch.float32, torch.float32), (torch.float64, torch.float64)])
def test_statistics_run_in_float32_or_wider(dtype, stats):
    assert stats_dtype(dtype) == stats
    x = _heads(1, 2, 3, 4).detach().to(dtype)
    out, lse = attention_with_lse(x, x, x)
    assert out.dtype == dtype and lse.dtype == stats
    # the scores' own rounding (the product in the input's dtype) and no more
    ref = torch.logsumexp((x @ x.transpose(-1, -2)).double(), -1, keepdim=True)
    assert torch.allclose(lse.double(), ref, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5)


def test_the_mask_is_moved_to_the_scores_device():
    """The meta device stands for a GPU (the function itself: autocast has no meta backend)."""
    q = torch.empty(1, 2, 3, 4, device="meta")
    out, lse = _AttentionWithLSE.apply(q, q, q, torch.zeros(3, 3))
    assert out.device.type == lse.device.type == "meta"


@pytest.mark.parametrize("used", ["out", "lse"])
def test_gradients_through_one_output_alone(used):
    q, k, v = _heads(1, 2, 4, 3, seed=3), _heads(1, 2, 6, 3, seed=4), _heads(1, 2, 6, 3, seed=5)
    out, lse = attention_with_lse(q, k, v)
    scores = q @ k.transpose(-1, -2)
    ref = torch.softmax(scores, -1) @ v if used == "out" else torch.logsumexp(scores, -1, keepdim=True)
    probe = torch.randn_like(ref)
    got = torch.autograd.grad(((out if used == "out" else lse) * probe).sum(), (q, k, v), allow_unused=True)
    want = torch.autograd.grad((ref * probe).sum(), (q, k, v), allow_unused=True)
    for a, r in zip(got, want):
        assert torch.allclose(a, torch.zeros_like(a) if r is None else r, atol=1e-12)

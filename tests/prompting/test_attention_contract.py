"""The prompt entries and attention variants at their edges (a mutation run of dpl/prompting/attention.py left
these unchecked): lengths of empty prompts, the mixture's switches and errors, the mask on the queries' device,
candidates of length 0, a mixture with no prompt at all, float64 statistics and when recomputation happens."""
import pytest
import torch
import torch.nn as nn
import torch.utils.checkpoint

from dpl.prompting.attention import (KVMixture, KVPrompt, ReplacePrompt, kv_attention, mixture_attention,
                                     naive_mixture_attention)

WIDTH, HEADS, LENGTH, BATCH = 8, 2, 5, 2


def _layer(dtype=torch.float64, device="cpu"):
    torch.manual_seed(0)
    attn, ln = nn.MultiheadAttention(WIDTH, HEADS), nn.LayerNorm(WIDTH)
    return attn.to(device, dtype), ln.to(device, dtype)


def _causal(dtype=torch.float64):
    return torch.full((LENGTH, LENGTH), float("-inf"), dtype=dtype).triu(1)


def test_prompt_lengths():
    assert len(KVPrompt(None)) == 0 and len(KVPrompt(torch.zeros(0, WIDTH))) == 0
    assert len(KVPrompt(torch.zeros(3, WIDTH))) == 3 and len(KVPrompt(torch.zeros(BATCH, 4, WIDTH))) == 4
    assert len(ReplacePrompt(torch.zeros(BATCH, 2, WIDTH))) == 2


def test_a_mixture_is_fused_and_stored_unless_told_and_checks_its_weights():
    candidates = [torch.zeros(k, WIDTH) for k in (1, 2)]
    plain = KVMixture(candidates, torch.ones(3) / 3)
    assert plain.naive is False and plain.recompute is False
    told = KVMixture(candidates, torch.ones(3) / 3, naive=True, recompute=True)
    assert told.naive is True and told.recompute is True
    with pytest.raises(ValueError) as e:
        KVMixture(candidates, torch.ones(2) / 2)
    assert str(e.value) == "KVMixture: 2 weights for 2 candidates; expected one weight per candidate plus one for length 0"


def test_per_sample_prompts_of_another_batch_are_refused():
    attn, ln = _layer()
    x = torch.randn(LENGTH, BATCH, WIDTH, dtype=torch.float64)
    with pytest.raises(ValueError) as e:
        kv_attention(attn, ln, x, torch.randn(BATCH + 1, 2, WIDTH, dtype=torch.float64))
    assert str(e.value) == f"per-sample prompts have batch {BATCH + 1} but the input has batch {BATCH}"


def test_the_mask_follows_the_queries_to_their_device():
    """A model moved to the GPU keeps OpenAI's causal mask (a plain attribute) where it was: the prompted attention
    moves it. The meta device stands for a GPU here."""
    attn, ln = _layer(torch.float32, "meta")
    x = torch.empty(LENGTH, BATCH, WIDTH, device="meta")
    out = kv_attention(attn, ln, x, torch.empty(3, WIDTH, device="meta"), _causal(torch.float32))
    assert out.device.type == "meta" and out.shape == (LENGTH, BATCH, WIDTH)


def _plain_sum(attn, ln, x, candidates, weights, mask):
    out = weights[0] * kv_attention(attn, ln, x, None, mask)
    for w, tokens in zip(weights[1:], candidates):
        out = out + w * kv_attention(attn, ln, x, tokens, mask)
    return out


@pytest.mark.parametrize("lengths", [(0, 2), (0, 0), (1, 0, 3)], ids=["one-empty", "all-empty", "empty-between"])
@pytest.mark.parametrize("masked", [False, True], ids=["vision", "text"])
def test_candidates_of_length_0_count_as_no_prompt_in_float64(lengths, masked):
    attn, ln = _layer()
    x = torch.randn(LENGTH, BATCH, WIDTH, dtype=torch.float64)
    candidates = [torch.randn(k, WIDTH, dtype=torch.float64) for k in lengths]
    weights = torch.softmax(torch.randn(len(lengths) + 1, dtype=torch.float64), -1)
    mask = _causal() if masked else None
    fused = mixture_attention(attn, ln, x, candidates, weights, mask)
    assert fused.dtype == torch.float64
    assert torch.allclose(fused, _plain_sum(attn, ln, x, candidates, weights, mask), rtol=0, atol=1e-12)


@pytest.fixture()
def counted_mixture(monkeypatch):
    """A layer, its input, two trainable candidates and their weights, and the list of checkpoint calls."""
    calls = []
    real = torch.utils.checkpoint.checkpoint
    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    attn, ln = _layer()
    x = torch.randn(LENGTH, BATCH, WIDTH, dtype=torch.float64)
    candidates = [torch.randn(k, WIDTH, dtype=torch.float64, requires_grad=True) for k in (1, 2)]
    weights = torch.softmax(torch.randn(3, dtype=torch.float64), -1)
    return attn, ln, x, candidates, weights, calls


def test_scores_are_recomputed_only_when_asked_and_only_for_a_backward_pass(counted_mixture):
    attn, ln, x, candidates, weights, calls = counted_mixture
    mixture_attention(attn, ln, x, candidates, weights)
    mixture_attention(attn, ln, x, candidates, weights, recompute=False)
    with torch.no_grad():
        mixture_attention(attn, ln, x, candidates, weights, recompute=True)
    assert calls == []
    mixture_attention(attn, ln, x, candidates, weights, recompute=True)
    assert calls == [1]


# ---- the key/value projection of prompts: frozen (cached views), trained, inference tensors, no bias ----------
def _reference_kv(attn, ln, x_ln, tokens):
    """nn.MultiheadAttention itself, queries x_ln (already layer-normed) and keys/values [x_ln; ln(tokens)]."""
    kv = torch.cat([x_ln, ln(tokens).unsqueeze(1).expand(-1, x_ln.shape[1], -1)], dim=0)
    return attn(x_ln, kv, kv, need_weights=False)[0]


@pytest.mark.parametrize("mode, bias", [(m, b) for m in ("frozen", "weight-trained", "inference") for b in (True, False)]
                         + [("bias-trained", True)])
def test_prompt_keys_and_values_use_the_whole_projection(mode, bias):
    def build():
        torch.manual_seed(0)
        attn, ln = nn.MultiheadAttention(WIDTH, HEADS, bias=bias).double(), nn.LayerNorm(WIDTH).double()
        if bias:
            nn.init.normal_(attn.in_proj_bias, std=0.5)  # the stock init is zero: make the bias count
        attn.requires_grad_(mode == "weight-trained")
        if mode == "bias-trained":
            attn.in_proj_bias.requires_grad_(True)
        x, tokens = torch.randn(LENGTH, BATCH, WIDTH, dtype=torch.float64), torch.randn(3, WIDTH, dtype=torch.float64)
        return attn, ln, x, tokens

    if mode == "inference":  # a model built under inference_mode: its weights keep no version counter
        with torch.inference_mode():
            attn, ln, x, tokens = build()
            got, want = kv_attention(attn, ln, x, tokens), _reference_kv(attn, ln, x, tokens)
    else:
        attn, ln, x, tokens = build()
        got, want = kv_attention(attn, ln, x, tokens), _reference_kv(attn, ln, x, tokens)
    assert torch.allclose(got, want, rtol=0, atol=1e-12)
    if mode in ("weight-trained", "bias-trained"):
        param = attn.in_proj_weight if mode == "weight-trained" else attn.in_proj_bias
        probe = torch.randn_like(want)
        g, = torch.autograd.grad((got * probe).sum(), param)
        r, = torch.autograd.grad((want * probe).sum(), param)
        assert torch.allclose(g, r, rtol=0, atol=1e-12)


def test_frozen_projection_views_are_made_once_and_renewed_when_the_bias_changes():
    torch.manual_seed(0)
    attn, ln = nn.MultiheadAttention(WIDTH, HEADS).double(), nn.LayerNorm(WIDTH).double()
    attn.requires_grad_(False)
    x, tokens = torch.randn(LENGTH, BATCH, WIDTH, dtype=torch.float64), torch.randn(3, WIDTH, dtype=torch.float64)
    kv_attention(attn, ln, x, tokens)
    first = attn.__dict__["_dpl_kv_projection"][1]
    kv_attention(attn, ln, x, tokens)
    assert all(a is b for a, b in zip(attn.__dict__["_dpl_kv_projection"][1], first))  # kept, not re-sliced
    with torch.no_grad():
        attn.in_proj_bias.add_(0.5)  # in place: same storage, new version
    assert torch.allclose(kv_attention(attn, ln, x, tokens), _reference_kv(attn, ln, x, tokens), rtol=0, atol=1e-12)
    attn.in_proj_bias = nn.Parameter(attn.in_proj_bias.detach() + 0.25, requires_grad=False)  # a new bias alone
    assert torch.allclose(kv_attention(attn, ln, x, tokens), _reference_kv(attn, ln, x, tokens), rtol=0, atol=1e-12)
    # a bias unfrozen after the views were cached gets its gradient
    attn.in_proj_bias.requires_grad_(True)
    out = kv_attention(attn, ln, x, tokens)
    assert out.requires_grad


def test_prompted_attention_dispatches_every_entry_and_refuses_others(counted_mixture):
    from dpl.prompting.attention import prompted_attention

    attn, ln, x, candidates, weights, calls = counted_mixture
    prompted_attention(attn, ln, x, KVMixture(candidates, weights, recompute=True))
    assert calls == [1]  # the entry's switch reaches the fused mixture
    with pytest.raises(TypeError) as e:
        prompted_attention(attn, ln, x, ReplacePrompt(candidates[0]))
    assert str(e.value) == "no attention variant for a prompt entry of type ReplacePrompt"

"""Text passes stop at the batch's last end-of-text token (after prompt insertion), over both backbone families:
every text block runs that many positions (a prompt block that moves the EOT moves the cut), and outputs and
gradients equal the full 77-token context (``full_text_context=True``) up to the order of float sums. Tolerance:
relative error 1e-5 in fp32, 1e-2 in fp16 (a few fp16 ulps)."""
import pytest
import torch

from dpl.prompting import Architecture, KVPrompt, PromptedCLIP, ReplacePrompt, SearchSpace, supernet_prompts
from dpl.method.text import prompt_inputs

from prompting_reference import build_small_clip, rel_err

TEXTS = ["a photo of a dog.", "a photo of a small red car.", "x"]


def _build(family):
    if family == "openai":
        return build_small_clip()
    pytest.importorskip("open_clip")
    from prompting_reference import build_small_open_clip

    return build_small_open_clip()


@pytest.fixture(scope="module", params=["openai", "open_clip"])
def pair(request):
    """(short, full) PromptedCLIPs over one stock model, and the text input (embeddings, EOT positions)."""
    stock = _build(request.param)
    short, full = PromptedCLIP(stock), PromptedCLIP(stock, full_text_context=True)
    emb, eot, _ = prompt_inputs(short, TEXTS)
    return short, full, emb, eot


def _lengths(prompted, run):
    """The number of positions each text block's MLP runs over during ``run()``."""
    seen, handles, n_rows = [], [], len(TEXTS)
    for block in prompted.model.transformer.resblocks:
        def hook(module, args):
            seen.append(args[0].numel() // (n_rows * prompted.text_width))
        handles.append(block.mlp.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return seen


def test_text_blocks_run_up_to_the_last_eot_and_the_switch_runs_the_whole_context(pair):
    short, full, emb, eot = pair
    last = int(eot.max())
    assert last + 1 < short.context_length  # the check below means something
    assert _lengths(short, lambda: short.encode_text(emb, eot)) == [last + 1] * short.text_layers
    assert _lengths(full, lambda: full.encode_text(emb, eot)) == [full.context_length] * full.text_layers


def test_a_prompt_that_moves_the_eot_moves_the_cut(pair):
    short, _, emb, eot = pair
    last, width = int(eot.max()), short.text_width
    grow = [ReplacePrompt(torch.randn(3, width)), ReplacePrompt(torch.randn(5, width))]
    assert _lengths(short, lambda: short.encode_text(emb, eot, grow)) == [last + 4, last + 6]
    # a context already in the embeddings (n_input_prompts) is replaced in place: no shift at the input
    same = [ReplacePrompt(torch.randn(2, width)), ReplacePrompt(torch.randn(1, width))]
    assert _lengths(short, lambda: short.encode_text(emb, eot, same, n_input_prompts=2)) == [last + 1, last]
    kv = [KVPrompt(torch.randn(4, width))] * short.text_layers  # keys/values only: no position moves
    assert _lengths(short, lambda: short.encode_text(emb, eot, kv)) == [last + 1] * short.text_layers


def _prompt_sets(prompted):
    torch.manual_seed(0)
    width, layers = prompted.text_width, prompted.text_layers
    space = SearchSpace(prompted.vision_layers, layers, prompted.vision_width, width, 3, std=0.5)
    arch = Architecture(prompted.vision_layers, layers, 3)
    with torch.no_grad():
        arch.text.normal_()
    replace = [torch.randn(3, width, requires_grad=True), torch.randn(5, width, requires_grad=True)]
    kv = [torch.randn(2, width, requires_grad=True) for _ in range(layers)]
    supernet = [arch.text, *space.text.values()]
    return {
        "none": (lambda: None, []),
        "kv": (lambda: [KVPrompt(p) for p in kv], kv),
        "replace": (lambda: [ReplacePrompt(p) for p in replace], replace),
        "supernet": (lambda: supernet_prompts(space, arch, "text"), supernet),
        "supernet naive": (lambda: supernet_prompts(space, arch, "text", naive=True), supernet),
    }


@pytest.mark.parametrize("kind", ["none", "kv", "replace", "supernet", "supernet naive"])
def test_short_context_equals_the_full_context_outputs_and_gradients(pair, kind):
    short, full, emb, eot = pair
    emb = emb.clone().requires_grad_(True)
    prompts, params = _prompt_sets(short)[kind]
    probe = torch.randn(len(TEXTS), short.embed_dim, generator=torch.Generator().manual_seed(1))
    results = []
    for model in (short, full):
        out = model.encode_text(emb, eot, prompts())
        grads = torch.autograd.grad((out * probe).sum(), [emb, *params])
        results.append((out, grads))
    (out_s, grads_s), (out_f, grads_f) = results
    assert rel_err(out_s, out_f) < 1e-5
    for a, b in zip(grads_s, grads_f):
        assert rel_err(a, b) < 1e-5
    assert grads_s[0][:, int(eot.max()) + 1:].abs().max() == 0  # positions after the last EOT are read by nothing


def test_short_context_equals_the_full_context_in_fp16():
    from clip.model import convert_weights

    stock = build_small_clip()
    convert_weights(stock)  # OpenAI's fp16 scheme (its LayerNorm computes in fp32)
    short, full = PromptedCLIP(stock), PromptedCLIP(stock, full_text_context=True)
    emb, eot, _ = prompt_inputs(short, TEXTS)
    prompts = [KVPrompt(torch.randn(2, short.text_width)), ReplacePrompt(torch.randn(3, short.text_width))]
    with torch.no_grad():
        got, want = short.encode_text(emb, eot, prompts).float(), full.encode_text(emb, eot, prompts).float()
    assert rel_err(got, want) < 1e-2


def test_eot_positions_changed_in_place_move_the_cut(pair):
    """The largest EOT position is remembered on the tensor; an in-place change must not reuse it."""
    short, full, emb, eot = pair
    eot = eot.clone()
    with torch.no_grad():
        short.encode_text(emb, eot)
        eot.fill_(int(eot.max()) + 4)
        assert rel_err(short.encode_text(emb, eot), full.encode_text(emb, eot)) < 1e-5

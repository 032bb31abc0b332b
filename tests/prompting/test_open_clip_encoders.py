"""The one prompt mechanism over open_clip's native blocks (batch-first, layer scales, mask as an argument): no
prompts equal open_clip's own encoders, key/value prompts and the fused supernet equal plain nn.MultiheadAttention
formulas (outputs and gradients), and towers the mechanism cannot run over are refused."""
import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from dpl.errors import BackboneError, ConfigError  # noqa: E402
from dpl.prompting import Architecture, KVPrompt, PromptedCLIP, ReplacePrompt, SearchSpace, supernet_prompts  # noqa: E402
from dpl.method.text import prompt_inputs  # noqa: E402

from prompting_reference import (build_small_open_clip, reference_image_open_clip, reference_text_open_clip,  # noqa: E402
                                 rel_err)

N = 3


@pytest.fixture(scope="module")
def oc_stock():
    return build_small_open_clip()


@pytest.fixture(scope="module")
def oc_prompted(oc_stock):
    return PromptedCLIP(oc_stock)


@pytest.fixture(scope="module")
def oc_images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def oc_text(oc_prompted):
    emb, eot, tokens = prompt_inputs(oc_prompted, ["a photo of a dog.", "a photo of a small red car.", "x"])
    return tokens, emb, eot


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "seq-first (older open_clip)"])
def test_no_prompts_equal_open_clip_encoders(batch_first, oc_images, oc_text):
    stock = build_small_open_clip(batch_first=batch_first)
    prompted = PromptedCLIP(stock)
    tokens, emb, eot = oc_text
    with torch.no_grad():
        assert rel_err(prompted.encode_image(oc_images), stock.encode_image(oc_images)) < 1e-6
        assert rel_err(prompted.encode_image(oc_images, [None] * prompted.vision_layers),
                       stock.encode_image(oc_images)) < 1e-6
        assert rel_err(prompted.encode_text(emb, eot), stock.encode_text(tokens)) < 1e-6


def test_properties_read_from_the_open_clip_model(oc_stock, oc_prompted):
    assert (oc_prompted.vision_layers, oc_prompted.text_layers) == (2, 2)
    assert (oc_prompted.vision_width, oc_prompted.text_width, oc_prompted.embed_dim) == (128, 64, 32)
    assert oc_prompted.input_resolution == 32 and oc_prompted.context_length == 77
    assert (oc_prompted.vision_heads, oc_prompted.text_heads) == (4, 4)
    assert oc_prompted.family.name == "open_clip"


def test_kv_prompts_match_plain_mha(oc_stock, oc_prompted, oc_images, oc_text):
    _, emb, eot = oc_text
    torch.manual_seed(0)
    pv = [torch.randn(3, oc_prompted.vision_width), None]
    pt = [torch.randn(2, oc_prompted.text_width), torch.randn(4, oc_prompted.text_width)]
    one = torch.tensor([0.0, 1.0])
    with torch.no_grad():
        got = oc_prompted.encode_image(oc_images, [KVPrompt(p) if p is not None else None for p in pv])
        want = reference_image_open_clip(oc_stock, oc_images, [([p], one) if p is not None else None for p in pv])
        assert rel_err(got, want) < 1e-5 and rel_err(got, oc_prompted.encode_image(oc_images)) > 1e-3
        got = oc_prompted.encode_text(emb, eot, [KVPrompt(p) for p in pt])
        assert rel_err(got, reference_text_open_clip(oc_stock, emb, eot, [([p], one) for p in pt])) < 1e-5


@pytest.mark.parametrize("branch", ["vision", "text"])
def test_fused_supernet_equals_plain_formula(branch, oc_stock, oc_prompted, oc_images, oc_text):
    """Outputs and gradients (alphas and every candidate prompt) of the fused mixture against one plain
    nn.MultiheadAttention call per candidate, and the naive flag against the fused path."""
    _, emb, eot = oc_text
    torch.manual_seed(0)
    space = SearchSpace(oc_prompted.vision_layers, oc_prompted.text_layers, oc_prompted.vision_width,
                        oc_prompted.text_width, N, std=0.5)
    arch = Architecture(oc_prompted.vision_layers, oc_prompted.text_layers, N)
    with torch.no_grad():
        getattr(arch, branch).normal_()
    w = arch.weights(branch)
    layers = [(space.candidates(branch, l), w[l]) for l in range(len(w))]
    if branch == "vision":
        def run(prompts):
            return oc_prompted.encode_image(oc_images, prompts)
        ref = reference_image_open_clip(oc_stock, oc_images, layers)
    else:
        def run(prompts):
            return oc_prompted.encode_text(emb, eot, prompts)
        ref = reference_text_open_clip(oc_stock, emb, eot, layers)
    fused = run(supernet_prompts(space, arch, branch))
    naive = run(supernet_prompts(space, arch, branch, naive=True))
    assert rel_err(fused, ref) < 1e-5 and rel_err(naive, ref) < 1e-5
    params = [getattr(arch, branch)] + list(getattr(space, branch).values())
    probe = torch.randn_like(ref)
    g_ref = torch.autograd.grad((ref * probe).sum(), params, retain_graph=True)
    for out in (fused, naive):
        for a, b in zip(torch.autograd.grad((out * probe).sum(), params), g_ref):
            assert rel_err(a, b) < 1e-5


def test_replace_prompt_text_insertion(oc_prompted, oc_text):
    _, emb, eot = oc_text
    p = torch.randn(3, oc_prompted.text_width)
    with torch.no_grad():
        got = oc_prompted.encode_text(emb, eot, [ReplacePrompt(p), None])
        inserted = torch.cat([emb[:, :1], p.expand(emb.shape[0], -1, -1), emb[:, 1:]], dim=1)[:, :emb.shape[1]]
        assert rel_err(got, oc_prompted.encode_text(inserted, eot + 3)) < 1e-6
        deep = oc_prompted.encode_image(torch.randn(2, 3, 32, 32), [ReplacePrompt(torch.randn(2, 128))] * 2)
        assert deep.shape == (2, oc_prompted.embed_dim) and torch.isfinite(deep).all()


def test_a_prompt_open_clip_would_cut_is_an_error(oc_prompted):
    """open_clip's tokenizer truncates silently; the class prompts must fit the context instead."""
    with pytest.raises(ConfigError, match="too long for the text encoder's context of 77 tokens"):
        prompt_inputs(oc_prompted, ["a photo of a " + "very " * 80 + "long name."])
    exact = "a " * 75  # 75 words + start + end = exactly the context
    tokens = prompt_inputs(oc_prompted, [exact.strip()])[2]
    assert int(tokens[0, -1]) == int(tokens.max())  # ends on the end-of-text token


def test_open_clip_fp16_scheme_keeps_layernorms_in_fp32(oc_images):
    """precision fp16 = open_clip's own conversion: fp16 weights, LayerNormFp32 (fp32 weights, fp32 compute)."""
    from open_clip.transformer import LayerNormFp32

    from dpl.backbones.loading import load_backbone

    model, tokenizer = load_backbone("open_clip:dpl-tiny", pretrained="random", dtype=torch.float16)
    ln = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert ln and all(isinstance(m, LayerNormFp32) and m.weight.dtype == torch.float32 for m in ln)
    assert model.visual.conv1.weight.dtype == torch.float16 and model.text_projection.dtype == torch.float16
    assert model.token_embedding.weight.dtype == torch.float32 and model.logit_scale.dtype == torch.float32
    prompted = PromptedCLIP(model, tokenizer)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    fp32, _ = load_backbone("open_clip:dpl-tiny", pretrained="random")
    with torch.no_grad():
        out = prompted.encode_image(images)
        assert out.dtype == torch.float16
        assert rel_err(out.float(), model.encode_image(images.half()).float()) < 1e-3
        # measured 8.1e-4 against the fp32 model (fp16's rounding: 9.8e-4); ~4x that as the bound
        assert rel_err(out.float(), fp32.encode_image(images)) < 3e-3


def _tiny_cfgs(**vision_extra):
    vision = dict(image_size=32, layers=1, width=64, head_width=32, patch_size=16, **vision_extra)
    text = dict(context_length=16, vocab_size=100, width=32, heads=2, layers=1)
    return vision, text


@pytest.mark.parametrize("build, phrase", [
    (lambda: open_clip.CLIP(16, *_tiny_cfgs(qk_norm=True)), "custom attention blocks"),
    (lambda: open_clip.CLIP(16, *_tiny_cfgs(attentional_pool=True, attn_pooler_heads=2)), "pools with attention"),
    (lambda: open_clip.CustomTextCLIP(16, *_tiny_cfgs()), "model class is CustomTextCLIP"),
    (lambda: open_clip.CLIP(16, *_tiny_cfgs(), init_logit_bias=-10.0), "logit bias"),
], ids=["qk-norm", "attention-pool", "custom-text", "logit-bias"])
def test_towers_the_prompts_cannot_run_over_are_refused(build, phrase):
    with pytest.raises(BackboneError, match=phrase):
        PromptedCLIP(build())


def test_a_tower_of_non_square_images_is_refused_naming_its_size():
    from types import SimpleNamespace

    from dpl.prompting.families import OpenCLIPFamily

    assert OpenCLIPFamily.input_resolution(SimpleNamespace(image_size=(16, 16))) == 16
    with pytest.raises(BackboneError) as e:
        OpenCLIPFamily.input_resolution(SimpleNamespace(image_size=(16, 32)))
    assert str(e.value) == "open_clip image tower takes 16x32 images; only square inputs are supported"

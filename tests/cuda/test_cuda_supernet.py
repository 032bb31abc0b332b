"""The fused supernet equals the naive N+1-attention formula on CUDA, at ViT-B/16 widths (2 layers per tower).
On the CPU the images are 112 pixels (50 tokens, not 197): its fp16 matmuls are emulated, and at 224 pixels the fp16
vision case alone took 35 s of the suite; widths, heads, prompt lengths and tolerances are the same.

Tolerances (relative L2 error, ||a - b|| / ||b||):
- fp32: outputs 1e-5, gradients of alphas and prompts 1e-4 (the naive path runs CUDA's fused attention
  kernels, the fused one explicit matmuls: only the summation order differs).
- fp16: both paths are compared with an fp32 run of the same (fp16-rounded) weights; the fused error must be
  below 1e-2 (outputs) / 5e-2 (gradients) and at most twice the naive path's error plus 1e-3.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from clip.model import CLIP
from cuda_helpers import DEVICE, rel_err

from dpl.backbones.loading import to_precision
from dpl.prompting import Architecture, KVPrompt, PromptedCLIP, SearchSpace, supernet_prompts

pytestmark = pytest.mark.cuda

RESOLUTION = 224 if DEVICE.type == "cuda" else 112
SHAPES = dict(embed_dim=512, image_resolution=RESOLUTION, vision_layers=2, vision_width=768, vision_patch_size=16,
              context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=2)
N = 6


@pytest.fixture(scope="module")
def fp32_model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CLIP(**SHAPES).eval()
        for name, p in model.named_parameters():
            if name.endswith("bias"):  # stock init leaves them at zero
                torch.nn.init.normal_(p, std=0.05)
    return model.requires_grad_(False)


@pytest.fixture(scope="module")
def inputs(fp32_model):
    import clip

    g = torch.Generator().manual_seed(1)
    images = torch.randn(3, 3, RESOLUTION, RESOLUTION, generator=g).to(DEVICE)
    tokens = clip.tokenize([f"a photo of a thing number {i}." for i in range(10)])
    return images, tokens.to(DEVICE)


@pytest.fixture(scope="module")
def search():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        space = SearchSpace(SHAPES["vision_layers"], SHAPES["transformer_layers"], SHAPES["vision_width"],
                            SHAPES["transformer_width"], N, std=0.5).to(DEVICE)
        arch = Architecture(SHAPES["vision_layers"], SHAPES["transformer_layers"], N).to(DEVICE)
        with torch.no_grad():  # spread the weights so every candidate matters
            arch.vision.normal_()
            arch.text.normal_()
    return space, arch


def _prompted(model, dtype):
    return PromptedCLIP(to_precision(copy.deepcopy(model), DEVICE, dtype))


def _run(pc, inputs, search, branch, naive, recompute=False):
    """Output of ``branch`` and the gradients of its alphas and prompts for a fixed random probe."""
    space, arch = search
    images, tokens = inputs
    prompts = supernet_prompts(space, arch, branch, naive=naive, recompute=recompute)
    if branch == "vision":
        out = pc.encode_image(images, prompts)
    else:
        with torch.no_grad():
            emb = pc.token_embedding(tokens)
        out = pc.encode_text(emb, tokens.argmax(-1), prompts)
    probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(3)).to(out.device)
    params = [getattr(arch, branch)] + list(getattr(space, branch).values())
    grads = torch.autograd.grad((out.float() * probe).sum(), params)
    return out.detach().float(), [g.float() for g in grads]


@pytest.mark.parametrize("branch", ["vision", "text"])
def test_fused_equals_naive_fp32(fp32_model, inputs, search, branch):
    pc = _prompted(fp32_model, torch.float32)
    fused, g_fused = _run(pc, inputs, search, branch, naive=False)
    naive, g_naive = _run(pc, inputs, search, branch, naive=True)
    assert rel_err(fused, naive) < 1e-5
    for a, b in zip(g_fused, g_naive):
        assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize("branch", ["vision", "text"])
def test_fused_fp16_is_as_accurate_as_naive_fp16(fp32_model, inputs, search, branch):
    half = _prompted(fp32_model, torch.float16)
    exact = _prompted(copy.deepcopy(half.model).float(), torch.float32)  # the same rounded weights, in fp32
    ref, g_ref = _run(exact, inputs, search, branch, naive=True)
    fused, g_fused = _run(half, inputs, search, branch, naive=False)
    naive, g_naive = _run(half, inputs, search, branch, naive=True)
    err_fused, err_naive = rel_err(fused, ref), rel_err(naive, ref)
    assert err_fused < 1e-2 and err_fused <= 2 * err_naive + 1e-3, (err_fused, err_naive)
    for a, b, r in zip(g_fused, g_naive, g_ref):
        e_fused, e_naive = rel_err(a, r), rel_err(b, r)
        assert e_fused < 5e-2 and e_fused <= 2 * e_naive + 1e-3, (e_fused, e_naive)


def test_recompute_changes_nothing_on_cuda(fp32_model, inputs, search):
    pc = _prompted(fp32_model, torch.float32)
    stored, g_stored = _run(pc, inputs, search, "text", naive=False)
    recomputed, g_recomputed = _run(pc, inputs, search, "text", naive=False, recompute=True)
    assert torch.equal(stored, recomputed)
    for a, b in zip(g_stored, g_recomputed):
        assert rel_err(a, b) < 1e-6


def test_one_hot_mixture_equals_the_fixed_prompt_the_train_stage_runs(fp32_model, inputs, search):
    """The search's fused path (explicit matmuls) and the train stage's (CUDA attention kernels) agree."""
    pc = _prompted(fp32_model, torch.float32)
    space, arch = search
    one_hot = copy.deepcopy(arch)
    with torch.no_grad():
        one_hot.vision.fill_(-1e4)
        one_hot.vision[:, 3] = 0.0
        fused = pc.encode_image(inputs[0], supernet_prompts(space, one_hot, "vision"))
        fixed = pc.encode_image(inputs[0], [KVPrompt(space.candidates("vision", l)[2]) for l in range(2)])
    assert rel_err(fused, fixed) < 1e-5
    assert F.cosine_similarity(fused, fixed).min() > 1 - 1e-6

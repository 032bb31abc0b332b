"""For a seed, each baseline's initial learned values equal the official constructors' draws in their order
(MaPLe's MultiModalPromptLearner: context, ``proj``, the deep text prompts, then one template Linear cloned per
deeper layer; CoOp / CoCoOp: the context, then CoCoOp's meta-net), written here from the official calls."""
import copy

import pytest
import torch
import torch.nn as nn

from dpl.method.deep_prompts import hand_layout
from trainers.cocoop import ConditionalContext
from trainers.coop import CoOpPromptLearner
from trainers.maple import MultiModalPrompts

CLASSES = ["cat", "dog", "sea_lion"]


@pytest.fixture(scope="module")
def fp16_clip():
    from dpl.backbones.loading import build_tiny_clip
    from dpl.prompting import PromptedCLIP

    model = build_tiny_clip()  # build_model's convert_weights: fp16, as the official baselines load CLIP
    model.requires_grad_(False)
    return PromptedCLIP(model)


def official_context(clip_model, n_ctx):
    ctx = torch.empty(n_ctx, clip_model.text_width, dtype=clip_model.dtype)
    nn.init.normal_(ctx, std=0.02)
    return ctx


@pytest.mark.parametrize("ctx_init", ["a photo of a", ""])
def test_maple(fp16_clip, ctx_init):
    n_ctx, depth, seed = 2, 3, 7
    layout = hand_layout(fp16_clip, "tiny-random", vision=(n_ctx, depth), text=(n_ctx, depth))
    torch.manual_seed(seed)
    ours = MultiModalPrompts(fp16_clip, CLASSES, layout, ctx_init)
    after = torch.rand(1)

    torch.manual_seed(seed)
    ctx = official_context(fp16_clip, n_ctx) if not ctx_init else ours.context.ctx.detach()
    proj = nn.Linear(fp16_clip.text_width, fp16_clip.vision_width)
    proj.half()
    compound = [torch.empty(n_ctx, fp16_clip.text_width) for _ in range(depth - 1)]
    for p in compound:
        nn.init.normal_(p, std=0.02)
    single = nn.Linear(fp16_clip.text_width, fp16_clip.vision_width)
    clones = [copy.deepcopy(single) for _ in range(depth - 1)]
    assert torch.equal(torch.rand(1), after)  # the stream continues where the official one does

    assert torch.equal(ours.context.ctx, ctx)
    assert torch.equal(ours.projections["0"].weight, proj.weight) and torch.equal(ours.projections["0"].bias, proj.bias)
    for layer, (p, clone) in enumerate(zip(compound, clones), start=1):
        assert torch.equal(ours.layers.text[str(layer)], p)
        assert torch.equal(ours.projections[str(layer)].weight, clone.weight)
        assert torch.equal(ours.projections[str(layer)].bias, clone.bias)


def test_coop(fp16_clip):
    torch.manual_seed(3)
    ours = CoOpPromptLearner(fp16_clip, CLASSES, 4)
    torch.manual_seed(3)
    assert torch.equal(ours.ctx, official_context(fp16_clip, 4))


def test_cocoop(fp16_clip):
    torch.manual_seed(4)
    ours = ConditionalContext(fp16_clip, CLASSES, 4, "")
    torch.manual_seed(4)
    ctx = official_context(fp16_clip, 4)
    vis_dim = fp16_clip.embed_dim  # the official clip_model.visual.output_dim
    meta = nn.Sequential(nn.Linear(vis_dim, vis_dim // 16), nn.ReLU(inplace=True),
                         nn.Linear(vis_dim // 16, fp16_clip.text_width))
    meta.half()
    assert torch.equal(ours.context.ctx, ctx)
    for (name, p), q in zip(ours.meta_net.named_parameters(), meta.parameters()):
        assert torch.equal(p, q), name

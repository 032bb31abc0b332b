"""IVLP, VPT and PromptSRC draw their deep prompts inside the official CLIP constructor (MaPLe's repository's
clip/model.py: CLIP, VisionTransformer, ResidualAttentionBlock_IVLP); CoOp, CoCoOp and MaPLe draw theirs after
``clip.build_model`` built (and randomly initialised) a stock CLIP. The reference below follows those constructors'
calls in order (and initialize_parameters); from the RNG state the trainer saved before loading CLIP, it gives the
same initial values and leaves the RNG where our set-up leaves it, whatever our loader drew (tiny-random: nothing)."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from trainer_harness import build


class OfficialBlock(nn.Module):
    def __init__(self, d_model, n_head, add_prompt=False, text_layer=False, i=0, design=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d_model, d_model * 4)), ("gelu", nn.GELU()),
                                              ("c_proj", nn.Linear(d_model * 4, d_model))]))
        self.ln_2 = nn.LayerNorm(d_model)
        if i != 0 and add_prompt:
            n_ctx = design["language_ctx"] if text_layer else design["vision_ctx"]
            ctx_vectors = torch.empty(n_ctx, d_model)
            nn.init.normal_(ctx_vectors, std=0.02)
            self.VPT_shallow = nn.Parameter(ctx_vectors)


class OfficialVisual(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim, design):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        if design["vision_depth"] != 0:
            ctx_vectors = torch.empty(design["vision_ctx"], width)
            nn.init.normal_(ctx_vectors, std=0.02)
            self.VPT = nn.Parameter(ctx_vectors)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.resblocks = nn.Sequential(*[OfficialBlock(width, heads, design["vision_depth"] > i, False, i, design)
                                         for i in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))


class OfficialCLIP(nn.Module):
    def __init__(self, stock, design):
        super().__init__()
        v = stock.visual
        width = v.conv1.out_channels
        self.visual = OfficialVisual(v.input_resolution, v.conv1.kernel_size[0], width, len(v.transformer.resblocks),
                                     v.transformer.resblocks[0].attn.num_heads, v.proj.shape[1], design)
        t_width, t_heads = stock.ln_final.weight.shape[0], stock.transformer.resblocks[0].attn.num_heads
        self.resblocks = nn.Sequential(*[OfficialBlock(t_width, t_heads, design["language_depth"] > i, True, i, design)
                                         for i in range(len(stock.transformer.resblocks))])
        self.token_embedding = nn.Embedding(*stock.token_embedding.weight.shape)
        self.positional_embedding = nn.Parameter(torch.empty(stock.positional_embedding.shape))
        self.ln_final = nn.LayerNorm(t_width)
        self.text_projection = nn.Parameter(torch.empty(stock.text_projection.shape))
        # initialize_parameters
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (t_width ** -0.5) * ((2 * len(self.resblocks)) ** -0.5)
        attn_std, fc_std = t_width ** -0.5, (2 * t_width) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=t_width ** -0.5)


NO_PROMPTS = {"vision_depth": 0, "language_depth": 0, "vision_ctx": 0, "language_ctx": 0}


def official(trainer, design, random_ctx=None, frozen_clips=0):
    torch.set_rng_state(trainer.rng_before_clip)
    model = OfficialCLIP(trainer.clip.model, design)
    ctx = None
    if random_ctx is not None:  # VLPromptLearner's ctx_vectors, in CLIP's dtype
        ctx = torch.empty(random_ctx, trainer.clip.text_width, dtype=trainer.clip.dtype)
        nn.init.normal_(ctx, std=0.02)
    for _ in range(frozen_clips):  # PromptSRC's clip_model_temp and clip_model_temp_image
        OfficialCLIP(trainer.clip.model, NO_PROMPTS)
    vision = {i: b.VPT_shallow for i, b in enumerate(model.visual.resblocks) if hasattr(b, "VPT_shallow")}
    if hasattr(model.visual, "VPT"):
        vision[0] = model.visual.VPT
    text = {i: b.VPT_shallow for i, b in enumerate(model.resblocks) if hasattr(b, "VPT_shallow")}
    return vision, text, ctx


def assert_equal_params(params, reference):
    assert {int(k) for k in params} == set(reference)
    for layer, value in reference.items():
        assert torch.equal(params[str(layer)], value), layer


@pytest.mark.parametrize("name,frozen_clips", [("IVLP", 0), ("PromptSRC", 2)])
@pytest.mark.parametrize("ctx_init", ["a photo of a", ""])
def test_independent(tmp_path, name, frozen_clips, ctx_init):
    node = {"IVLP": "IVLP", "PromptSRC": "PROMPTSRC"}[name]
    trainer = build(name, tmp_path / "data", tmp_path / "out", "fp16", [f"TRAINER.{node}.CTX_INIT", ctx_init])
    after = torch.get_rng_state()
    c, learned = trainer.method_cfg, trainer.model.prompt_learner
    design = {"vision_depth": c.PROMPT_DEPTH_VISION, "language_depth": c.PROMPT_DEPTH_TEXT,
              "vision_ctx": c.N_CTX_VISION, "language_ctx": c.N_CTX_TEXT}
    vision, text, ctx = official(trainer, design, None if ctx_init else c.N_CTX_TEXT, frozen_clips)
    assert_equal_params(learned.layers.vision, vision)
    assert_equal_params(learned.layers.text, text)
    if ctx is not None:
        assert torch.equal(learned.context.ctx, ctx)
    assert torch.equal(torch.get_rng_state(), after)  # the stream continues where the official one does


def test_vpt(tmp_path):
    trainer = build("VPT", tmp_path / "data", tmp_path / "out", "fp32", ["TRAINER.VPT.PROMPT_DEPTH_VISION", 2])
    after = torch.get_rng_state()
    c = trainer.method_cfg
    vision, text, _ = official(trainer, {**NO_PROMPTS, "vision_depth": 2, "vision_ctx": c.N_CTX_VISION})
    assert_equal_params(trainer.model.prompt_learner.vision, vision)
    assert torch.equal(torch.get_rng_state(), after) and not text


def text_context(trainer, n_ctx):
    ctx = torch.empty(n_ctx, trainer.clip.text_width, dtype=trainer.clip.dtype)
    nn.init.normal_(ctx, std=0.02)
    return ctx


def test_coop(tmp_path):
    trainer = build("CoOp", tmp_path / "data", tmp_path / "out", "fp16", ["TRAINER.COOP.N_CTX", 4])
    after = torch.get_rng_state()
    official(trainer, NO_PROMPTS)  # CoOp's clip.build_model: a stock CLIP
    ctx = text_context(trainer, 4)
    assert torch.equal(trainer.model.prompt_learner.ctx, ctx)
    assert torch.equal(torch.get_rng_state(), after)


def test_cocoop(tmp_path):
    trainer = build("CoCoOp", tmp_path / "data", tmp_path / "out", "fp16", ["TRAINER.COCOOP.CTX_INIT", ""])
    after = torch.get_rng_state()
    learned = trainer.model.prompt_learner
    official(trainer, NO_PROMPTS)
    ctx = text_context(trainer, learned.context.n_ctx)
    vis_dim = trainer.clip.embed_dim
    meta = nn.Sequential(nn.Linear(vis_dim, vis_dim // 16), nn.ReLU(inplace=True),
                         nn.Linear(vis_dim // 16, trainer.clip.text_width)).half()
    assert torch.equal(learned.context.ctx, ctx)
    assert all(torch.equal(p, q) for p, q in zip(learned.meta_net.parameters(), meta.parameters()))
    assert torch.equal(torch.get_rng_state(), after)


@pytest.mark.parametrize("ctx_init", ["a photo of a", ""])
def test_maple(tmp_path, ctx_init):
    trainer = build("MaPLe", tmp_path / "data", tmp_path / "out", "fp16", ["TRAINER.MAPLE.CTX_INIT", ctx_init])
    after = torch.get_rng_state()
    learned, c = trainer.model.prompt_learner, trainer.method_cfg
    official(trainer, NO_PROMPTS)  # VisionTransformer_MaPLe draws as the stock one
    n_ctx, depth = c.N_CTX, min(c.PROMPT_DEPTH, trainer.clip.text_layers)
    ctx = text_context(trainer, n_ctx) if not ctx_init else learned.context.ctx.detach()
    proj = nn.Linear(trainer.clip.text_width, trainer.clip.vision_width).half()
    compound = [torch.empty(n_ctx, trainer.clip.text_width) for _ in range(depth - 1)]
    for p in compound:
        nn.init.normal_(p, std=0.02)
    single = nn.Linear(trainer.clip.text_width, trainer.clip.vision_width)
    assert torch.equal(learned.context.ctx, ctx)
    assert torch.equal(learned.projections["0"].weight, proj.weight)
    assert_equal_params(learned.layers.text, dict(enumerate(compound, start=1)))
    for layer in range(1, depth):
        assert torch.equal(learned.projections[str(layer)].weight, single.weight)
        assert torch.equal(learned.projections[str(layer)].bias, single.bias)
    assert torch.equal(torch.get_rng_state(), after)

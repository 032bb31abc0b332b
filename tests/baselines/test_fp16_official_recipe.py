"""PREC fp16 logits of CoOp, CoCoOp, IVLP, PromptSRC and MaPLe equal the official recipe's (tests/baselines/
official_recipe.py) bit for bit for the same learned values, on the CPU (fp16 runs there too). Bit for bit means the
official sequence length: these run with the whole 77-token context (``MODEL.FULL_TEXT_CONTEXT True``); the
default short context equals it up to the order of float sums (tests/speed)."""
import pytest
import torch
from official_recipe import class_prompt_pieces, image_features, logits, text_features
from trainer_harness import build as build_trainer


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("recipe_data")


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(4))


def build(trainer, data_root, output_dir, precision, opts=()):
    return build_trainer(trainer, data_root, output_dir, precision, [*opts, "MODEL.FULL_TEXT_CONTEXT", True])


def ours(trainer, images):
    trainer.model.eval()
    with torch.no_grad():
        return trainer.model(images).float()


def close(a, b):
    return torch.equal(a, b)


def deep_from(params):
    return {int(k): v.detach() for k, v in params.items()}


def test_coop(data_root, tmp_path, images):
    trainer = build("CoOp", data_root, tmp_path, "fp16")
    stock, ctx = trainer.clip.model, trainer.model.prompt_learner.ctx.detach()
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, " ".join(["X"] * len(ctx)),
                                                 len(ctx))
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    with torch.no_grad():
        ref = logits(stock, image_features(stock, images), text_features(stock, prompts, tokens)).float()
    assert close(ours(trainer, images), ref)


def test_cocoop(data_root, tmp_path, images):
    """CoCoOp: the meta-net (CLIP's dtype) shifts the context by the normalised image feature; one text pass per
    image."""
    trainer = build("CoCoOp", data_root, tmp_path, "fp16", ["TRAINER.COCOOP.CTX_INIT", ""])
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx = learned.context.ctx.detach()
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, " ".join(["X"] * len(ctx)),
                                                 len(ctx))
    rows = []
    with torch.no_grad():
        feats = image_features(stock, images)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        shifted = ctx.unsqueeze(0) + learned.meta_net(feats).unsqueeze(1)
        for feat, ctx_i in zip(feats, shifted):
            prompts = torch.cat([prefix, ctx_i.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
            text = text_features(stock, prompts, tokens)
            text = text / text.norm(dim=-1, keepdim=True)
            rows.append(stock.logit_scale.exp() * feat.unsqueeze(0) @ text.t())  # feat is already normalised
    assert learned.meta_net[0].weight.dtype == torch.float16
    assert close(ours(trainer, images), torch.cat(rows).float())


@pytest.mark.parametrize("name", ["IVLP", "PromptSRC"])
def test_independent_deep_prompts(name, data_root, tmp_path, images):
    trainer = build(name, data_root, tmp_path, "fp16")
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx, n_ctx = learned.context.ctx.detach(), learned.context.n_ctx
    vision = deep_from(learned.layers.vision)
    text = deep_from(learned.layers.text)
    node = trainer.cfg.TRAINER[trainer.CONFIG_NODE]
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, node.CTX_INIT, n_ctx)
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    with torch.no_grad():
        ref = logits(stock, image_features(stock, images, vision.pop(0), vision),
                     text_features(stock, prompts, tokens, text)).float()
    assert vision and text  # deep prompts were exercised
    assert close(ours(trainer, images), ref)


def test_maple(data_root, tmp_path, images):
    trainer = build("MaPLe", data_root, tmp_path, "fp16")
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx, n_ctx = learned.context.ctx.detach(), learned.context.n_ctx
    text = deep_from(learned.layers.text)
    with torch.no_grad():
        shared = learned.projections["0"](ctx)  # the official self.proj, in CLIP's dtype
        vision = {l: learned.projections[str(l)](p) for l, p in text.items()}  # fp32 layers on fp32 prompts
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, trainer.cfg.TRAINER.MAPLE.CTX_INIT,
                                                 n_ctx)
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    with torch.no_grad():
        ref = logits(stock, image_features(stock, images, shared, vision),
                     text_features(stock, prompts, tokens, text)).float()
    assert text and shared.dtype == torch.float16
    assert close(ours(trainer, images), ref)

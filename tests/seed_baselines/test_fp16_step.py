"""One PREC fp16 training step of each baseline (VPT: fp32, as its official code runs) equals a reference step
written from the official calls bit for bit on the CPU: loss and every gradient. The references follow the official
trainers: cross-entropy on the fp16 logits, deep prompts expanded over the batch then cast with ``.half()``,
PromptSRC's terms in their official dtypes and order, VPT's prompts rounded through fp16 and its text normalised once.
Whole 77-token context (``MODEL.FULL_TEXT_CONTEXT True``), as in tests/baselines/test_fp16_official_recipe.py."""
import copy

import clip
import pytest
import torch
import torch.nn.functional as F
from official_recipe import class_prompt_pieces, image_features, logits, text_features
from trainer_harness import build as build_trainer

from dpl.method.templates import IMAGENET_TEMPLATES_60


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("step_data")


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(5))


def build(trainer, data_root, output_dir, precision="fp16", opts=()):
    return build_trainer(trainer, data_root, output_dir, precision, [*opts, "MODEL.FULL_TEXT_CONTEXT", True])


def labels_for(trainer):
    return torch.arange(3) % len(trainer.dm.dataset.classnames)


def our_step(trainer, images, label):
    """What ``forward_backward`` computes before the optimiser step: the loss and the prompts' gradients."""
    trainer.model.train()
    learned = trainer.model.prompt_learner
    learned.zero_grad(set_to_none=True)
    loss, _ = trainer.compute_loss(trainer.model(images), label, None)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in learned.named_parameters() if p.requires_grad}


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def assert_same(ours, ref_loss, ref_grads):
    loss, grads = ours
    assert loss.dtype == ref_loss.dtype and torch.equal(loss, ref_loss.detach())
    assert set(grads) == set(ref_grads)
    for name, grad in grads.items():
        assert grad.dtype == ref_grads[name].dtype, name
        assert torch.equal(grad, ref_grads[name]), f"{name}: {(grad.float() - ref_grads[name].float()).abs().max()}"


def test_coop(data_root, tmp_path, images):
    trainer = build("CoOp", data_root, tmp_path)
    label = labels_for(trainer)
    stock, ctx = trainer.clip.model, leaf(trainer.model.prompt_learner.ctx)
    assert ctx.dtype == torch.float16
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, " ".join(["X"] * len(ctx)),
                                                 len(ctx))
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    output = logits(stock, image_features(stock, images), text_features(stock, prompts, tokens))
    loss = F.cross_entropy(output, label)  # CoOp's trainer: on the fp16 output
    loss.backward()
    assert loss.dtype == torch.float16
    assert_same(our_step(trainer, images, label), loss, {"ctx": ctx.grad})


def test_cocoop(data_root, tmp_path, images):
    trainer = build("CoCoOp", data_root, tmp_path, opts=["TRAINER.COCOOP.CTX_INIT", ""])
    label = labels_for(trainer)
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx = leaf(learned.context.ctx)
    meta = {n: leaf(p) for n, p in learned.meta_net.named_parameters()}
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, " ".join(["X"] * len(ctx)),
                                                 len(ctx))
    feats = image_features(stock, images)
    feats = feats / feats.norm(dim=-1, keepdim=True)
    hidden = F.relu(F.linear(feats, meta["0.weight"], meta["0.bias"]))
    bias = F.linear(hidden, meta["2.weight"], meta["2.bias"]).unsqueeze(1)
    shifted = ctx.unsqueeze(0) + bias
    rows = []
    for ctx_i, imf_i in zip(shifted, feats):  # CoCoOp's CustomCLIP.forward
        prompts = torch.cat([prefix, ctx_i.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
        text = text_features(stock, prompts, tokens)
        text = text / text.norm(dim=-1, keepdim=True)
        rows.append(stock.logit_scale.exp() * imf_i @ text.t())
    loss = F.cross_entropy(torch.stack(rows), label)
    loss.backward()
    ref = {"context.ctx": ctx.grad, **{f"meta_net.{n}": p.grad for n, p in meta.items()}}
    assert_same(our_step(trainer, images, label), loss, ref)


def independent_reference(trainer, images):
    """IVLP's / PromptSRC's CustomCLIP: (normalised image features, normalised text features, logits, leaves)."""
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx = leaf(learned.context.ctx)
    vision = {int(k): leaf(v) for k, v in learned.layers.vision.items()}
    text = {int(k): leaf(v) for k, v in learned.layers.text.items()}
    node = trainer.cfg.TRAINER[trainer.CONFIG_NODE]
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, node.CTX_INIT, len(ctx))
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    deep_vision = {l: v for l, v in vision.items() if l > 0}
    image = image_features(stock, images, vision[0], deep_vision)
    txt = text_features(stock, prompts, tokens, text)
    image = image / image.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    leaves = {"context.ctx": ctx, **{f"layers.vision.{l}": v for l, v in vision.items()},
              **{f"layers.text.{l}": v for l, v in text.items()}}
    assert len(vision) > 1 and text
    return image, txt, stock.logit_scale.exp() * image @ txt.t(), leaves


def test_ivlp(data_root, tmp_path, images):
    trainer = build("IVLP", data_root, tmp_path)
    label = labels_for(trainer)
    _, _, output, leaves = independent_reference(trainer, images)
    loss = F.cross_entropy(output, label)
    loss.backward()
    assert_same(our_step(trainer, images, label), loss, {n: p.grad for n, p in leaves.items()})


def test_promptsrc(data_root, tmp_path, images):
    """PromptSRC's forward_backward: the fixed target is the fp32 ``torch.cat(...).mean(dim=1)`` of an fp32 CLIP's
    features over the 60 templates, normalised; frozen image features from the fp16 CLIP without prompts."""
    trainer = build("PromptSRC", data_root, tmp_path)
    label = labels_for(trainer)
    stock, c = trainer.clip.model, trainer.method_cfg
    image, txt, output, leaves = independent_reference(trainer, images)
    stock32 = copy.deepcopy(stock).float()  # as load_clip_to_cpu(cfg, True).float()
    per_template = []
    with torch.no_grad():
        for template in IMAGENET_TEMPLATES_60:
            texts = [template.replace("{}", n.replace("_", " ")) for n in trainer.dm.dataset.classnames]
            per_template.append(stock32.encode_text(torch.cat([clip.tokenize(t) for t in texts])).unsqueeze(1))
    fixed = torch.cat(per_template, dim=1).mean(dim=1)
    fixed = fixed / fixed.norm(dim=-1, keepdim=True)
    with torch.no_grad():
        zs = image_features(stock, images)
        zs = zs / zs.norm(dim=-1, keepdim=True)
        zs_logits = stock.logit_scale.exp() * zs @ fixed.half().t()
    loss_ce = F.cross_entropy(output, label)
    loss_text = F.l1_loss(txt, fixed, reduction="mean") * c.TEXT_LOSS_WEIGHT
    loss_image = F.l1_loss(image, zs, reduction="mean") * c.IMAGE_LOSS_WEIGHT
    loss_logits = F.kl_div(F.log_softmax(output / 1, dim=1), F.log_softmax(zs_logits / 1, dim=1), reduction="sum",
                           log_target=True) * (1 * 1) / output.numel()
    loss = loss_ce + (loss_logits + loss_text + loss_image)
    loss.backward()
    assert loss.dtype == torch.float32  # the text term promotes the sum
    assert_same(our_step(trainer, images, label), loss, {n: p.grad for n, p in leaves.items()})


def test_maple(data_root, tmp_path, images):
    trainer = build("MaPLe", data_root, tmp_path)
    label = labels_for(trainer)
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    ctx = leaf(learned.context.ctx)
    text = {int(k): leaf(v) for k, v in learned.layers.text.items()}
    proj = {int(k): {n: leaf(p) for n, p in m.named_parameters()} for k, m in learned.projections.items()}
    shared = F.linear(ctx, proj[0]["weight"], proj[0]["bias"])  # self.proj(self.ctx), fp16
    vision = {l: F.linear(text[l], proj[l]["weight"], proj[l]["bias"]) for l in text}  # fp32 layers
    prefix, suffix, tokens = class_prompt_pieces(stock, trainer.dm.dataset.classnames, trainer.method_cfg.CTX_INIT,
                                                 len(ctx))
    prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(len(prefix), -1, -1), suffix], dim=1)
    output = logits(stock, image_features(stock, images, shared, vision), text_features(stock, prompts, tokens, text))
    loss = F.cross_entropy(output, label)
    loss.backward()
    ref = {"context.ctx": ctx.grad, **{f"layers.text.{l}": p.grad for l, p in text.items()},
           **{f"projections.{l}.{n}": p.grad for l, ps in proj.items() for n, p in ps.items()}}
    assert text and shared.dtype == torch.float16
    assert_same(our_step(trainer, images, label), loss, ref)


def test_vpt(data_root, tmp_path, images):
    """The official VPT: an fp32 CLIP, prompts rounded by ``expand(...).half()`` then joined to the fp32 sequence,
    the hand-crafted prompt's raw fp32 features normalised once per step."""
    trainer = build("VPT", data_root, tmp_path)
    label = labels_for(trainer)
    stock, learned = trainer.clip.model, trainer.model.prompt_learner
    assert trainer.clip.dtype == torch.float32
    vision = {int(k): leaf(v) for k, v in learned.vision.items()}
    with torch.no_grad():
        texts = [f"a photo of a {n.replace('_', ' ')}." for n in trainer.dm.dataset.classnames]
        fixed = stock.encode_text(torch.cat([clip.tokenize(t) for t in texts]))
    image = image_features(stock, images, vision[0], {l: v for l, v in vision.items() if l > 0})
    output = logits(stock, image, fixed)
    loss = F.cross_entropy(output, label)
    loss.backward()
    assert_same(our_step(trainer, images, label), loss, {f"vision.{l}": p.grad for l, p in vision.items()})

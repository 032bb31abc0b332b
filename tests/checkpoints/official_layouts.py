"""Checkpoints as the official codebases write them, for the tests (this project never imports Dassl): each
method's parameter names, shapes and dtypes as its official trainer saves them (frozen CLIP copies and class-token
buffers included where the official trainer registered its whole CLIP wrapper), in Dassl's file layout
``{"state_dict", "epoch", "optimizer", "scheduler", "val_result"}`` with the optimizer and a warm-up scheduler
pickled as Dassl pickles them. Each builder also says what this project's learner must hold after loading."""
import contextlib
import os
import sys
import types
from collections import OrderedDict

import torch

FOLDERS = {"CoOp": "prompt_learner", "CoCoOp": "prompt_learner", "VPT": "prompt_learner",
           "IVLP": "VLPromptLearner", "PromptSRC": "VLPromptLearner", "MaPLe": "MultiModalPromptLearner",
           "DPL": "MultiModalPromptLearner"}
# trainer options that give each method the official structure the builder writes (the tiny backbone has 4 vision
# and 3 text layers)
OPTS = {"IVLP": ["TRAINER.IVLP.PROMPT_DEPTH_VISION", 4, "TRAINER.IVLP.PROMPT_DEPTH_TEXT", 3],
        "PromptSRC": ["TRAINER.PROMPTSRC.PROMPT_DEPTH_VISION", 4, "TRAINER.PROMPTSRC.PROMPT_DEPTH_TEXT", 3],
        "MaPLe": ["TRAINER.MAPLE.PROMPT_DEPTH", 3]}
DPL_LAYOUT = {"vision": [0, 2, 2, 0], "text": [1, 2, 1]}  # what TRAINER.LAYOUT random:3 gives on the tiny backbone


class Dims:
    """The backbone's sizes the official tensors take (ViT-B/16's 512 / 768 in the official code)."""

    def __init__(self, clip_model, n_classes):
        self.text, self.vision = clip_model.text_width, clip_model.vision_width
        self.embed, self.context = clip_model.embed_dim, clip_model.context_length
        self.vision_layers, self.text_layers, self.classes = clip_model.vision_layers, clip_model.text_layers, n_classes


def _r(*shape, dtype=torch.float32, g):
    return torch.randn(*shape, generator=g).to(dtype)


def _frozen_wrapper(d, g, prefix=""):
    """A few of the frozen CLIP tensors a wrapper-level registration saves (names as in the official CustomCLIP)."""
    return {f"{prefix}image_encoder.conv1.weight": _r(d.vision, 3, 4, 4, dtype=torch.float16, g=g),
            f"{prefix}image_encoder.transformer.resblocks.0.attn.in_proj_weight": _r(3 * d.vision, d.vision, g=g),
            f"{prefix}text_encoder.positional_embedding": _r(d.context, d.text, g=g),
            f"{prefix}text_encoder.text_projection": _r(d.text, d.embed, dtype=torch.float16, g=g),
            f"{prefix}logit_scale": torch.tensor(4.6052)}


def _class_tokens(d, n_ctx, g, prefix=""):
    return {f"{prefix}token_prefix": _r(d.classes, 1, d.text, dtype=torch.float16, g=g),
            f"{prefix}token_suffix": _r(d.classes, d.context - 1 - n_ctx, d.text, dtype=torch.float16, g=g)}


def coop(d, g):
    ctx = _r(16, d.text, dtype=torch.float16, g=g)  # CoOp keeps its context in CLIP's dtype
    return {"ctx": ctx, **_class_tokens(d, 16, g)}, {"ctx": ctx}


def cocoop(d, g):
    hidden = d.embed // 16
    s = {"ctx": _r(4, d.text, dtype=torch.float16, g=g),
         "meta_net.linear1.weight": _r(hidden, d.embed, dtype=torch.float16, g=g),
         "meta_net.linear1.bias": _r(hidden, dtype=torch.float16, g=g),
         "meta_net.linear2.weight": _r(d.text, hidden, dtype=torch.float16, g=g),
         "meta_net.linear2.bias": _r(d.text, dtype=torch.float16, g=g), **_class_tokens(d, 4, g)}
    ours = {"context.ctx": s["ctx"], "meta_net.0.weight": s["meta_net.linear1.weight"],
            "meta_net.0.bias": s["meta_net.linear1.bias"], "meta_net.2.weight": s["meta_net.linear2.weight"],
            "meta_net.2.bias": s["meta_net.linear2.bias"]}
    return s, ours


def _ivlp(d, g, n_ctx, vision_depth, text_depth, extra=None):
    s = {"prompt_learner.ctx": _r(n_ctx, d.text, dtype=torch.float16, g=g),
         "image_encoder.VPT": _r(n_ctx, d.vision, g=g)}
    ours = {"context.ctx": s["prompt_learner.ctx"], "layers.vision.0": s["image_encoder.VPT"]}
    for l in range(1, vision_depth):
        s[f"image_encoder.transformer.resblocks.{l}.VPT_shallow"] = ours[f"layers.vision.{l}"] = _r(n_ctx, d.vision, g=g)
    for l in range(1, text_depth):
        s[f"text_encoder.transformer.resblocks.{l}.VPT_shallow"] = ours[f"layers.text.{l}"] = _r(n_ctx, d.text, g=g)
    s.update(_class_tokens(d, n_ctx, g, "prompt_learner."))
    s.update(_frozen_wrapper(d, g))
    s.update(extra or {})
    return s, ours


def ivlp(d, g):
    return _ivlp(d, g, 2, d.vision_layers, d.text_layers)


def promptsrc(d, g):
    frozen_copy = {"prompt_learner.ZS_image_encoder.conv1.weight": _r(d.vision, 3, 4, 4, g=g),
                   "prompt_learner.ZS_image_encoder.proj": _r(d.vision, d.embed, g=g)}
    return _ivlp(d, g, 4, d.vision_layers, d.text_layers, frozen_copy)


def vpt(d, g):
    s = {"image_encoder.VPT": _r(8, d.vision, g=g)}
    ours = {"vision.0": s["image_encoder.VPT"]}
    for l in range(1, d.vision_layers):
        s[f"image_encoder.transformer.resblocks.{l}.VPT_shallow"] = ours[f"vision.{l}"] = _r(8, d.vision, g=g)
    s.update(_frozen_wrapper(d, g))
    return s, ours


def maple(d, g, depth=3):
    s = {"prompt_learner.ctx": _r(2, d.text, dtype=torch.float16, g=g),
         "prompt_learner.proj.weight": _r(d.vision, d.text, dtype=torch.float16, g=g),
         "prompt_learner.proj.bias": _r(d.vision, dtype=torch.float16, g=g)}
    ours = {"context.ctx": s["prompt_learner.ctx"], "projections.0.weight": s["prompt_learner.proj.weight"],
            "projections.0.bias": s["prompt_learner.proj.bias"]}
    for i in range(depth - 1):  # the official lists start at layer 1
        s[f"prompt_learner.compound_prompts_text.{i}"] = ours[f"layers.text.{i + 1}"] = _r(2, d.text, g=g)
        for part, shape in (("weight", (d.vision, d.text)), ("bias", (d.vision,))):
            s[f"prompt_learner.compound_prompt_projections.{i}.{part}"] = ours[f"projections.{i + 1}.{part}"] = \
                _r(*shape, g=g)
    s.update(_class_tokens(d, 2, g, "prompt_learner."))
    s.update(_frozen_wrapper(d, g))
    return s, ours


def dpl(d, g, layout=DPL_LAYOUT):
    s, ours = {}, {}
    for branch, official, width in (("vision", "ctx_img_lst", d.vision), ("text", "ctx_txt_lst", d.text)):
        for l, k in enumerate(layout[branch]):  # every layer has a tensor, (0, width) for length 0
            s[f"prompt_learner.{official}.{l}"] = _r(k, width, g=g)
            if k:
                ours[f"{branch}.{l}"] = s[f"prompt_learner.{official}.{l}"]
    s["prompt_learner.ZS_image.conv1.weight"] = _r(d.vision, 3, 4, 4, g=g)
    s.update(_frozen_wrapper(d, g))
    return s, ours


BUILDERS = {"CoOp": coop, "CoCoOp": cocoop, "IVLP": ivlp, "PromptSRC": promptsrc, "VPT": vpt, "MaPLe": maple,
            "DPL": dpl}


# ---- Dassl's file ------------------------------------------------------------------------------------------
class ConstantWarmupScheduler(torch.optim.lr_scheduler.LRScheduler):
    """Stand-in for Dassl's constant warm-up in front of a successor scheduler, pickled under Dassl's module name."""

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr):
        self.successor, self.warmup_epoch, self.cons_lr = successor, warmup_epoch, cons_lr
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]


@contextlib.contextmanager
def dassl_modules():
    """``dassl.optim.lr_scheduler`` exists while a file is written, so the stand-in pickles under Dassl's name."""
    names = ("dassl", "dassl.optim", "dassl.optim.lr_scheduler")
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    sys.modules["dassl.optim.lr_scheduler"].ConstantWarmupScheduler = ConstantWarmupScheduler
    ConstantWarmupScheduler.__module__ = "dassl.optim.lr_scheduler"
    try:
        yield
    finally:
        ConstantWarmupScheduler.__module__ = __name__
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def write_dassl_checkpoint(model_dir, state, epoch=2, warmup_object=False, extra=None):
    """``model_dir/model.pth.tar-<epoch>`` and the ``checkpoint`` pointer as Dassl writes them: SGD over the learned
    tensors (one step taken, so it has momentum state), a constant warm-up in front of a cosine schedule; the
    scheduler entry is the warm-up's state_dict (holding the cosine scheduler object and, in it, the optimizer)
    or, with ``warmup_object``, the warm-up scheduler object itself."""
    os.makedirs(model_dir, exist_ok=True)
    params = [torch.nn.Parameter(v.float().clone()) for v in state.values() if v.is_floating_point() and v.numel()]
    optimizer = torch.optim.SGD(params, lr=0.002, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()
    with dassl_modules():
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, float(epoch))
        warmup = ConstantWarmupScheduler(optimizer, cosine, 1, 1e-5)
        checkpoint = {"state_dict": OrderedDict(state), "epoch": epoch, "optimizer": optimizer.state_dict(),
                      "scheduler": warmup if warmup_object else warmup.state_dict(), "val_result": None,
                      **(extra or {})}
        name = f"model.pth.tar-{epoch}"
        torch.save(checkpoint, os.path.join(model_dir, name))
    with open(os.path.join(model_dir, "checkpoint"), "w") as f:
        f.write(name + "\n")
    return os.path.join(model_dir, name)

"""Independent vision-language prompting (IVLP; Khattak et al., MaPLe paper) and VPT-deep (Jia et al., ECCV 2022).

IVLP: independent deep prompts in both towers (text layer 0 = learned context after the start token). Depth 0
leaves a tower unprompted: vision depth 0 is deep *language* prompting. VPT: vision-only deep prompts; the
text side is the frozen hand-crafted prompt. With ``TRAINER.LAYOUT`` the layout's per-layer lengths replace the
hand design (VPT uses its vision branch only).
"""
import torch
from yacs.config import CfgNode as CN

from dpl.method.deep_prompts import (DeepPromptLearner, build_ivlp_learner, draw_in_official_order, hand_layout,
                               ivlp_official_checkpoint, method_layout, without)
from dpl.engine import TRAINER_REGISTRY
from dpl.method.official_checkpoints import FROZEN_IN_WRAPPERS, OfficialCheckpoint
from dpl.prompting import LayerPrompts
from dpl.method.text import zero_shot_text_features
from dpl.method.trainer_base import PromptTrainer


def extend_cfg(cfg):
    cfg.TRAINER.IVLP = CN()
    cfg.TRAINER.IVLP.N_CTX_VISION = 2
    cfg.TRAINER.IVLP.N_CTX_TEXT = 2
    cfg.TRAINER.IVLP.CTX_INIT = "a photo of a"
    cfg.TRAINER.IVLP.PROMPT_DEPTH_VISION = 9  # 0: language-only prompting
    cfg.TRAINER.IVLP.PROMPT_DEPTH_TEXT = 9
    cfg.TRAINER.IVLP.PREC = "fp16"
    cfg.TRAINER.IVLP.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)

    cfg.TRAINER.VPT = CN()
    # the official defaults (shallow VPT, 2 tokens); the published VPT-deep config sets 8 tokens in every layer
    cfg.TRAINER.VPT.N_CTX_VISION = 2
    cfg.TRAINER.VPT.CTX_INIT = "a photo of a"  # the frozen text prompt is "<CTX_INIT> <class>."
    cfg.TRAINER.VPT.PROMPT_DEPTH_VISION = 1  # -1: every layer of the loaded model (VPT-deep)
    cfg.TRAINER.VPT.PREC = "fp16"
    # True: the prompts enter the fp32 tower unrounded; the official VPT rounds them through fp16 (``.half()``)
    cfg.TRAINER.VPT.PROMPTS_FP32 = False
    cfg.TRAINER.VPT.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)


@TRAINER_REGISTRY.register()
class IVLP(PromptTrainer):
    CONFIG_NODE = "IVLP"
    OFFICIAL_CHECKPOINT = ivlp_official_checkpoint("IVLP (muzairkhattak/multimodal-prompt-learning)")

    def build_learner(self, cfg, classnames, clip_model):
        return build_ivlp_learner(cfg, classnames, clip_model, self.CONFIG_NODE,
                                  rng_before_clip=getattr(self, "rng_before_clip", None))


class VPTLearner(DeepPromptLearner):
    """Prompted image tower against fixed text features of the hand-crafted prompt (computed once, normalised once
    as the official VPT does); the prompts are rounded through fp16 unless ``prompts_fp32``."""

    def __init__(self, clip_model, prompt_learner, classnames, template, prompts_fp32=False):
        super().__init__(clip_model, prompt_learner)
        clip_model.vision_prompt_rounding = None if prompts_fp32 else torch.float16
        print(f"Text prompt (frozen): {template!r}")
        self.register_buffer("text_features", zero_shot_text_features(clip_model, classnames, template),
                             persistent=False)

    def class_text_features(self):
        return self.text_features


@TRAINER_REGISTRY.register()
class VPT(PromptTrainer):
    CONFIG_NODE = "VPT"
    # the official VPT (MaPLe's repository) registers its whole CLIP wrapper as "prompt_learner"
    OFFICIAL_CHECKPOINT = OfficialCheckpoint(
        "VPT (muzairkhattak/multimodal-prompt-learning)", "prompt_learner",
        rules=[(r"image_encoder\.VPT", "vision.0"),
               (r"image_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow", r"vision.\1")],
        ignored=FROZEN_IN_WRAPPERS)

    def _resolve_precision(self, prec):
        # The official VPT loads CLIP with .float() whatever PREC says; its published numbers are fp32 runs.
        if prec != "fp32":
            print(f"Note: TRAINER.VPT.PREC is {prec}, but VPT runs in fp32 as the official code does")
        return "fp32"

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        default = hand_layout(clip_model, cfg.MODEL.BACKBONE.NAME, vision=(c.N_CTX_VISION, c.PROMPT_DEPTH_VISION),
                              node="TRAINER.VPT")
        layout = method_layout(cfg, clip_model, default)
        if any(layout.text):
            print("Note: VPT prompts the image tower only; the layout's text branch is ignored")
        vision_only = without(layout, text=True)
        prompts = LayerPrompts(vision_only, clip_model.vision_width, clip_model.text_width, kind="replace")
        draw_in_official_order(clip_model, prompts, getattr(self, "rng_before_clip", None))
        template = f"{c.CTX_INIT.replace('_', ' ').strip()} {{}}." if c.CTX_INIT else "{}."
        return VPTLearner(clip_model, prompts, classnames, template, prompts_fp32=c.PROMPTS_FP32)

"""MaPLe (Khattak et al., CVPR 2023): multi-modal prompts. Text prompts at the input (layer 0) and in the next
PROMPT_DEPTH - 1 layers; the vision prompt of each of those layers is a learned linear projection of that
layer's text prompt (one Linear(text width -> vision width) per layer), so the towers stay coupled.

With ``TRAINER.LAYOUT`` the text branch's per-layer lengths decide; the vision branch follows the text (it is
always the projection of the text prompt), so the layout's vision branch is ignored.
"""
import copy

import torch.nn as nn
from yacs.config import CfgNode as CN

from dpl.method.deep_prompts import DeepPromptLearner, DeepPrompts, hand_layout, method_layout
from dpl.engine import TRAINER_REGISTRY
from dpl.method.official_checkpoints import CLASS_TOKEN_BUFFERS, FROZEN_IN_WRAPPERS, OfficialCheckpoint, next_layer
from dpl.prompting import ReplacePrompt
from dpl.method.trainer_base import PromptTrainer


def extend_cfg(cfg):
    cfg.TRAINER.MAPLE = CN()
    cfg.TRAINER.MAPLE.N_CTX = 2
    cfg.TRAINER.MAPLE.CTX_INIT = "a photo of a"
    cfg.TRAINER.MAPLE.PREC = "fp16"
    cfg.TRAINER.MAPLE.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)
    cfg.TRAINER.MAPLE.PROMPT_DEPTH = 9  # layers 0..DEPTH-1 get prompts


class MultiModalPrompts(DeepPrompts):
    """Text context + deep text prompts (from ``DeepPrompts``) and one text->vision projection per prompted layer."""

    def __init__(self, clip_model, classnames, layout, ctx_init):
        super().__init__(clip_model, classnames, layout, ctx_init, prompt_vision=False, node="TRAINER.MAPLE")
        if any(layout.text[self.n_coupled_layers:]):
            print(f"Note: text layers beyond {self.n_coupled_layers} have no vision layer to couple to; their vision "
                  "side is unprompted")
        deep = [l for l in self.coupled if l > 0]
        if deep:  # drawn after the deep text prompts, as the official code draws its one template Linear
            template = nn.Linear(clip_model.text_width, clip_model.vision_width)
            self.projections.update({str(l): copy.deepcopy(template) for l in deep})
        self.n_vision_layers = clip_model.vision_layers

    def build_before_layers(self, clip_model, layout):
        """The input layer's projection (CLIP's dtype), drawn between the context and the deep text prompts as the
        official MultiModalPromptLearner draws ``proj``; the deeper layers' projections, copies of one fp32 Linear
        (the same initial weights in every layer), come after the deep prompts (``__init__``)."""
        self.n_coupled_layers = min(clip_model.vision_layers, clip_model.text_layers)
        self.coupled = [l for l in range(self.n_coupled_layers) if layout.text[l] > 0]
        self.projections = nn.ModuleDict()
        if 0 in self.coupled:
            self.projections["0"] = nn.Linear(clip_model.text_width, clip_model.vision_width).to(clip_model.dtype)

    def _text_tokens(self, layer, text_prompts):
        if layer == 0:
            return self.context.ctx
        return text_prompts[layer].tokens

    def vision_prompts(self):
        text_prompts = self.text_prompts()
        prompts = [None] * self.n_vision_layers
        for l in self.coupled:
            projection = self.projections[str(l)]
            prompts[l] = ReplacePrompt(projection(self._text_tokens(l, text_prompts).to(projection.weight.dtype)))
        return prompts


@TRAINER_REGISTRY.register()
class MaPLe(PromptTrainer):
    CONFIG_NODE = "MAPLE"
    OFFICIAL_CLIP_DRAWS = True  # its official trainer builds a stock CLIP before drawing the prompts
    # the official lists of deep prompts and projections start at layer 1 (layer 0: ctx and proj)
    OFFICIAL_CHECKPOINT = OfficialCheckpoint(
        "MaPLe (muzairkhattak/multimodal-prompt-learning)", "MultiModalPromptLearner",
        rules=[(r"prompt_learner\.ctx", "context.ctx"), (r"prompt_learner\.proj\.(weight|bias)", r"projections.0.\1"),
               (r"prompt_learner\.compound_prompts_text\.(\d+)", next_layer("layers.text.{layer}")),
               (r"prompt_learner\.compound_prompt_projections\.(\d+)\.(weight|bias)",
                next_layer("projections.{layer}.{g2}"))],
        ignored=(*CLASS_TOKEN_BUFFERS, *FROZEN_IN_WRAPPERS))

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        default = hand_layout(clip_model, cfg.MODEL.BACKBONE.NAME, vision=(c.N_CTX, c.PROMPT_DEPTH),
                              text=(c.N_CTX, c.PROMPT_DEPTH), node="TRAINER.MAPLE",
                              depth_keys=("PROMPT_DEPTH", "PROMPT_DEPTH"))
        layout = method_layout(cfg, clip_model, default)
        if layout is not default:
            print("Note: MaPLe's vision prompts are projections of its text prompts at the same layers; "
                  "the layout's vision branch is ignored")
        return DeepPromptLearner(clip_model, MultiModalPrompts(clip_model, classnames, layout, c.CTX_INIT))

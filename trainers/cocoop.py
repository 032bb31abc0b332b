"""CoCoOp (Zhou et al., CVPR 2022): CoOp's learned context plus an image-conditioned shift from a small meta-net
(Linear -> ReLU -> Linear, image feature width -> width // 16 -> text width), so every image gets its own
class prompts. With ``TRAINER.LAYOUT`` set, the context length is the layout's text length at layer 0.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from yacs.config import CfgNode as CN

from dpl.engine import TRAINER_REGISTRY
from dpl.method.text_context import TextContext
from dpl.method.trainer_base import CLIPLearner, PromptTrainer
from dpl.method.layout_config import context_length_from_layout
from dpl.method.official_checkpoints import CLASS_TOKEN_BUFFERS, OfficialCheckpoint


def extend_cfg(cfg):
    cfg.TRAINER.COCOOP = CN()
    cfg.TRAINER.COCOOP.N_CTX = 16
    cfg.TRAINER.COCOOP.CTX_INIT = ""  # e.g. "a photo of a" (its token count is then the context length)
    cfg.TRAINER.COCOOP.PREC = "fp16"
    cfg.TRAINER.COCOOP.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)


class ConditionalContext(nn.Module):
    """The learned context and the meta-net that shifts it per image."""

    def __init__(self, clip_model, classnames, n_ctx, ctx_init):
        super().__init__()
        self.context = TextContext(clip_model, classnames, n_ctx, ctx_init, node="TRAINER.COCOOP")
        vis_dim, ctx_dim = clip_model.embed_dim, clip_model.text_width
        self.meta_net = nn.Sequential(nn.Linear(vis_dim, vis_dim // 16), nn.ReLU(inplace=True),
                                      nn.Linear(vis_dim // 16, ctx_dim)).to(clip_model.dtype)

    def shifted_contexts(self, image_features):
        """(B, k, W): the context plus each image's meta-net output (one shift shared by all k tokens)."""
        shift = self.meta_net(image_features.to(self.context.ctx.dtype))
        return self.context.ctx.unsqueeze(0) + shift.unsqueeze(1)


class CoCoOpLearner(CLIPLearner):
    cache_text_features = False  # the class prompts depend on the image

    def __init__(self, clip_model, prompt_learner):
        super().__init__(clip_model)
        self.prompt_learner = prompt_learner

    def text_features_for(self, ctx):
        context = self.prompt_learner.context
        return F.normalize(self.clip.encode_text(context.embeddings(ctx), context.eot_index), dim=-1)

    def class_text_features(self):
        """Features of the unshifted context (the image-independent part); not used for CoCoOp's logits."""
        return self.text_features_for(None)

    def forward(self, images):
        image_features = self.image_features(images)
        contexts = self.prompt_learner.shifted_contexts(image_features)
        # One text pass per image (C prompts each), as CoCoOp does: B*C prompts at once would not fit for ImageNet.
        rows = [self.logits_from(feature.unsqueeze(0), self.text_features_for(ctx))
                for feature, ctx in zip(image_features, contexts)]
        return torch.cat(rows, dim=0)


@TRAINER_REGISTRY.register()
class CoCoOp(PromptTrainer):
    CONFIG_NODE = "COCOOP"
    OFFICIAL_CLIP_DRAWS = True  # its official trainer builds a stock CLIP before drawing the prompts
    # the official meta-net is an nn.Sequential with named layers linear1 / relu / linear2
    OFFICIAL_CHECKPOINT = OfficialCheckpoint(
        "CoCoOp (KaiyangZhou/CoOp)", "prompt_learner",
        rules=[(r"ctx", "context.ctx"), (r"meta_net\.linear1\.(weight|bias)", r"meta_net.0.\1"),
               (r"meta_net\.linear2\.(weight|bias)", r"meta_net.2.\1")],
        ignored=CLASS_TOKEN_BUFFERS)

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        n_ctx = context_length_from_layout(cfg, clip_model, self.CONFIG_NODE)
        return CoCoOpLearner(clip_model, ConditionalContext(clip_model, classnames, n_ctx, c.CTX_INIT))

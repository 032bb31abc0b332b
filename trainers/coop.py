"""CoOp (Zhou et al., IJCV 2022): a learned context in front of (or around) the class name at the text input.

With ``TRAINER.LAYOUT`` set, the context length is the layout's text length at layer 0.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from yacs.config import CfgNode as CN

from dpl.engine import TRAINER_REGISTRY
from dpl.errors import ConfigError
from dpl.method.layout_config import context_length_from_layout
from dpl.method.official_checkpoints import CLASS_TOKEN_BUFFERS, OfficialCheckpoint
from dpl.method.text import clean_classname, context_init_embedding, prompt_inputs, tokenize
from dpl.method.trainer_base import CLIPLearner, PromptTrainer

POSITIONS = ("end", "middle", "front")


def extend_cfg(cfg):
    cfg.TRAINER.COOP = CN()
    cfg.TRAINER.COOP.N_CTX = 16
    cfg.TRAINER.COOP.CSC = False  # class-specific context
    cfg.TRAINER.COOP.CTX_INIT = ""  # e.g. "a photo of a"
    cfg.TRAINER.COOP.PREC = "fp16"
    cfg.TRAINER.COOP.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)
    cfg.TRAINER.COOP.CLASS_TOKEN_POSITION = "end"


class CoOpPromptLearner(nn.Module):
    """Holds the context vectors; builds the (C, L, W) input embeddings of every class prompt."""

    def __init__(self, clip_model, classnames, n_ctx, ctx_init="", csc=False, position="end"):
        super().__init__()
        if position not in POSITIONS:
            raise ConfigError(f"TRAINER.COOP.CLASS_TOKEN_POSITION is {position!r}; expected one of {POSITIONS}")
        width, n_cls = clip_model.text_width, len(classnames)
        ctx_init = ctx_init.replace("_", " ")
        if ctx_init:
            init = context_init_embedding(clip_model, ctx_init)
            n_ctx = n_ctx or len(init)  # as CoOp: the initialisation's length decides, unless a layout does
            if len(init) == n_ctx:
                ctx = init  # one context for every class, as the official CoOp, whatever CSC says
                if csc:
                    print("CSC is ignored with CTX_INIT (as in the official CoOp): one context for every class")
                    csc = False
            else:
                print(f"CTX_INIT {ctx_init!r} has {len(init)} tokens but the context has {n_ctx}: random init")
                ctx_init = ""
        if not ctx_init:
            ctx = torch.empty(n_cls, n_ctx, width) if csc else torch.empty(n_ctx, width)
            nn.init.normal_(ctx, std=0.02)
        print(f'Initial context: "{ctx_init or " ".join(["X"] * n_ctx)}" ({n_ctx} tokens, '
              f'{"class-specific" if csc else "unified"})')
        self.ctx = nn.Parameter(ctx.to(clip_model.dtype))
        self.n_ctx, self.position = n_ctx, position

        names = [clean_classname(c) for c in classnames]
        placeholder = " ".join(["X"] * n_ctx)
        embedding, eot, _ = prompt_inputs(clip_model, [f"{placeholder} {name}." for name in names])
        # Frozen pieces of every prompt, rebuilt from CLIP at load time, so never saved.
        self.register_buffer("token_prefix", embedding[:, :1], persistent=False)  # start token
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:], persistent=False)  # name . EOT pad
        self.register_buffer("eot_index", eot, persistent=False)
        name_tokens = tokenize(clip_model, names)
        self.name_lens = (name_tokens.argmax(-1) - 1).tolist()  # tokens between start and EOT

    def forward(self):
        n_cls = self.token_prefix.shape[0]
        ctx = self.ctx if self.ctx.dim() == 3 else self.ctx.unsqueeze(0).expand(n_cls, -1, -1)
        prefix, suffix = self.token_prefix, self.token_suffix
        if self.position == "end":
            return torch.cat([prefix, ctx, suffix], dim=1)
        rows = []
        half = self.n_ctx // 2
        for i, n in enumerate(self.name_lens):
            name, rest = suffix[i:i + 1, :n], suffix[i:i + 1, n:]
            if self.position == "middle":
                parts = [prefix[i:i + 1], ctx[i:i + 1, :half], name, ctx[i:i + 1, half:], rest]
            else:
                parts = [prefix[i:i + 1], name, ctx[i:i + 1], rest]
            rows.append(torch.cat(parts, dim=1))
        return torch.cat(rows, dim=0)


class CoOpLearner(CLIPLearner):
    def __init__(self, clip_model, prompt_learner):
        super().__init__(clip_model)
        self.prompt_learner = prompt_learner

    def class_text_features(self):
        embeddings = self.prompt_learner()
        features = self.clip.encode_text(embeddings, self.prompt_learner.eot_index)
        return F.normalize(features, dim=-1)


@TRAINER_REGISTRY.register()
class CoOp(PromptTrainer):
    CONFIG_NODE = "COOP"
    OFFICIAL_CLIP_DRAWS = True  # its official trainer builds a stock CLIP before drawing the prompts
    OFFICIAL_CHECKPOINT = OfficialCheckpoint("CoOp (KaiyangZhou/CoOp)", "prompt_learner", rules=[(r"ctx", "ctx")],
                                             ignored=CLASS_TOKEN_BUFFERS)

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        n_ctx = context_length_from_layout(cfg, clip_model, self.CONFIG_NODE)
        learner = CoOpPromptLearner(clip_model, classnames, n_ctx, c.CTX_INIT, c.CSC, c.CLASS_TOKEN_POSITION)
        return CoOpLearner(clip_model, learner)

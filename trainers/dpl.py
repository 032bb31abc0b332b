"""DPL train stage (Huang et al., 2025): one key/value prompt of the searched length per layer and branch
(length 0 = nothing at that layer), fixed class text input, optional distillation toward zero-shot CLIP.

The layout comes from ``TRAINER.LAYOUT`` (the search's ``layout.json``, or ``uniform:K`` etc.).
``TRAINER.DPL`` is shared with the search stage (trainers/dpl_search.py).
"""
import torch
import torch.nn.functional as F
from yacs.config import CfgNode as CN

from dpl.method.dpl_text import class_text_input
from dpl.engine import TRAINER_REGISTRY
from dpl.errors import ConfigError
from dpl.method.layout_config import layout_from_cfg
from dpl.method.official_checkpoints import FROZEN_IN_WRAPPERS, OfficialCheckpoint
from dpl.prompting import LayerPrompts
from dpl.method.templates import IMAGENET_TEMPLATES_60
from dpl.method.text import mean_text_features
from dpl.method.trainer_base import CLIPLearner, PromptTrainer

SEARCH_HINT = ("run the search first (python train.py --trainer DPLSearch --config-file "
               "configs/trainers/DPL/search.yaml ...) and pass TRAINER.LAYOUT <search output dir>/layout.json, "
               "or give a hand layout such as TRAINER.LAYOUT uniform:2")


def extend_cfg(cfg):
    cfg.TRAINER.DPL = CN()
    cfg.TRAINER.DPL.PREC = "fp32"
    cfg.TRAINER.DPL.MAX_LENGTH = 6  # N: lengths 0..N per layer
    cfg.TRAINER.DPL.PROMPT_STD = 0.02
    # The defaults reproduce the official code; each alternative is a named switch (README: "Differences from the
    # official code"), and configs/trainers/DPL/*_fixed.yaml turn all of them on.
    # train-stage text input: "ensemble" (official: 60-template position-wise mean, last template's EOT) |
    # "ensemble_aligned" (80 templates, EOTs aligned) | "default" | a template with "{}"
    cfg.TRAINER.DPL.CTX_INIT = "ensemble"
    cfg.TRAINER.DPL.SEARCH_CTX_INIT = "default"  # the search's text input ("a photo of a {}.")
    # search candidates: "official" (vision N(0, 1), text U[0, 1)) | "normal" (N(0, PROMPT_STD) in both towers)
    cfg.TRAINER.DPL.SEARCH_INIT = "official"
    # alpha-step batches: "first" (official: the first val batch every step) | "cycle" (through the val split)
    cfg.TRAINER.DPL.ALPHA_BATCHES = "first"
    cfg.TRAINER.DPL.ALPHA_LR = 3.5e-3
    cfg.TRAINER.DPL.ALPHA_BETAS = (0.5, 0.999)
    cfg.TRAINER.DPL.ALPHA_WEIGHT_DECAY = 0.0
    cfg.TRAINER.DPL.ALPHA_WARMUP_EPOCHS = 0  # prompts-only epochs before the alphas train (0 = paper)
    cfg.TRAINER.DPL.NAIVE_SUPERNET = False  # debug: N+1 separate attentions instead of the fused mixture
    # recompute the fused mixture's score matrices in the backward pass instead of keeping them (less memory)
    cfg.TRAINER.DPL.SUPERNET_RECOMPUTE = False
    cfg.TRAINER.DPL.KD_WEIGHT = 0.0  # distillation toward zero-shot CLIP; 0 = no teacher built or run
    cfg.TRAINER.DPL.KD_TEMPERATURE = 1.0
    # KD scale: "numel" (official: summed KL / number of logits) | "batchmean" (summed KL / batch size: C x larger)
    cfg.TRAINER.DPL.KD_REDUCTION = "numel"
    cfg.TRAINER.DPL.COLLAPSE_ZERO_FRACTION = 0.75  # warn when this fraction of layers chose length 0
    cfg.TRAINER.DPL.UNDECIDED_MARGIN = 0.05  # warn when the mean winner-minus-runner-up margin is below


class FixedTextLearner(CLIPLearner):
    """A CLIP learner whose text input is one fixed token sequence per class (frozen, never saved)."""

    def __init__(self, clip_model, classnames, ctx_init, key):
        super().__init__(clip_model)
        embeddings, eot = class_text_input(clip_model, classnames, ctx_init, key)
        self.register_buffer("text_embeddings", embeddings, persistent=False)
        self.register_buffer("text_eot", eot, persistent=False)

    def vision_prompts(self):
        raise NotImplementedError

    def text_prompts(self):
        raise NotImplementedError

    def image_features(self, images):
        return self.encode_images(images, self.vision_prompts())

    def class_text_features(self):
        features = self.clip.encode_text(self.text_embeddings, self.text_eot, self.text_prompts())
        return F.normalize(features, dim=-1)


class DPLLearner(FixedTextLearner):
    def __init__(self, clip_model, classnames, layout, ctx_init="ensemble", std=0.02):
        super().__init__(clip_model, classnames, ctx_init, "TRAINER.DPL.CTX_INIT")
        self.layout = layout
        self.prompt_learner = LayerPrompts(layout, clip_model.vision_width, clip_model.text_width,
                                           kind="kv", std=std)  # fp32 whatever CLIP's precision

    def vision_prompts(self):
        return self.prompt_learner.vision_prompts()

    def text_prompts(self):
        return self.prompt_learner.text_prompts()


class ZeroShotTeacher(torch.nn.Module):
    """Frozen zero-shot CLIP on the same (shared, frozen) model: text features (the normalised mean of the raw
    features over the 60 official templates, in fp32) computed once."""

    def __init__(self, clip_model, classnames, templates=IMAGENET_TEMPLATES_60):
        super().__init__()
        self.clip = [clip_model]  # a list: the shared CLIP is not a submodule of the teacher
        self.register_buffer("text_features", mean_text_features(clip_model, classnames, templates),
                             persistent=False)

    @torch.no_grad()
    def forward(self, images):
        clip_model = self.clip[0]
        image = F.normalize(clip_model.encode_image(images.type(clip_model.dtype)).float(), dim=-1)
        return clip_model.logit_scale.exp().float() * image @ self.text_features.float().t()


def advance_rng_as_teacher_load(clip_model):
    """The official train stage loads a second CLIP, its zero-shot teacher, right after the prompt init and at any
    KD weight; building a CLIP draws its random initialisation from the global RNG before the weights are loaded.
    Our teacher shares the frozen CLIP, so build the same architecture once and drop it: the global RNG then stands
    where the official run's does (the training shuffle and augmentations that follow draw the same numbers).
    OpenAI CLIP only (the official code loads no other family)."""
    from clip.model import CLIP, build_model

    model = getattr(clip_model, "model", clip_model)
    if not isinstance(model, CLIP):
        return
    with torch.no_grad():
        build_model(dict(model.state_dict()))  # every draw of the CLIP constructor, as the teacher load makes them


def kd_loss(student_logits, teacher_logits, temperature, reduction="numel"):
    """KL(teacher || student) of the class distributions at ``temperature``, scaled by T^2 (so its gradient size does
    not depend on T). ``reduction``: "numel" divides the summed KL by the number of logits (the official code),
    "batchmean" by the batch size (the textbook KL per sample, C times larger)."""
    t = temperature
    student = F.log_softmax(student_logits.float() / t, dim=-1)
    teacher = F.log_softmax(teacher_logits.float() / t, dim=-1)
    total = F.kl_div(student, teacher, reduction="sum", log_target=True) * (t * t)
    return total / (student_logits.numel() if reduction == "numel" else student_logits.shape[0])


@TRAINER_REGISTRY.register()
class DPL(PromptTrainer):
    CONFIG_NODE = "DPL"
    # the official train stage (TrainerSubnet) keeps one key/value prompt per layer, (0, width) for length 0
    OFFICIAL_CHECKPOINT = OfficialCheckpoint(
        "DPL (Zhenhan-Huang/Differentiable-Prompt-Learn)", "MultiModalPromptLearner",
        rules=[(r"prompt_learner\.ctx_img_lst\.(\d+)", r"vision.\1"),
               (r"prompt_learner\.ctx_txt_lst\.(\d+)", r"text.\1")],
        ignored=(*FROZEN_IN_WRAPPERS, r"prompt_learner\.ZS_image\..*"), skip_empty=True)

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        if not cfg.TRAINER.LAYOUT:
            raise ConfigError(f"TRAINER.LAYOUT is not set; the DPL trainer needs a prompt layout: {SEARCH_HINT}")

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        layout = layout_from_cfg(cfg, clip_model, max_length=c.MAX_LENGTH)
        if layout is None:  # check_cfg guards this; kept for callers that skip it
            raise ConfigError(f"TRAINER.LAYOUT is not set; {SEARCH_HINT}")
        print(f"DPL layout: {layout.summary()}")
        learner = DPLLearner(clip_model, classnames, layout, c.CTX_INIT, c.PROMPT_STD)
        advance_rng_as_teacher_load(clip_model)
        # Built only when used: with weight 0 the teacher would cost a forward pass per step for nothing.
        self.teacher = ZeroShotTeacher(clip_model, classnames) if c.KD_WEIGHT > 0 else None
        return learner

    def build_model(self):
        super().build_model()
        if self.teacher is not None:
            self.teacher.to(self.device)

    def compute_loss(self, output, label, batch):
        loss = F.cross_entropy(output.float(), label)
        if self.teacher is None:
            return loss, {}
        images, _ = self.parse_batch_train(batch)
        teacher_logits = self.teacher(images)
        kd = kd_loss(output, teacher_logits, self.method_cfg.KD_TEMPERATURE, self.method_cfg.KD_REDUCTION)
        return loss + self.method_cfg.KD_WEIGHT * kd, {"loss_ce": loss.item(), "loss_kd": kd.item()}

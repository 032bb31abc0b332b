"""PromptSRC (Khattak et al., ICCV 2023): IVLP prompts regularised toward the frozen CLIP, and Gaussian prompt
aggregation (GPA) over epochs.

Loss = CE + TEXT_LOSS_WEIGHT * L1(prompted text features, frozen text features)
          + IMAGE_LOSS_WEIGHT * L1(prompted image features, frozen image features)
          + KL(prompted logits || frozen zero-shot logits).
The frozen text features are CLIP's raw zero-shot features averaged over the official 60 ImageNet templates, then
normalised, computed once in fp32 (as the official code does);
the frozen image features come from the same CLIP run without prompts (no second copy of the model). GPA: the
prompt_learner state after epoch e is weighted by a Gaussian over e = 1..MAX_EPOCH (GPA_MEAN, GPA_STD), the
weights normalised to sum to 1; after the last epoch the aggregate replaces the prompts and is what is saved
and tested. The running sum is saved in every checkpoint.
"""
import math

import torch
import torch.nn.functional as F
from yacs.config import CfgNode as CN

from dpl.method.deep_prompts import DeepPromptLearner, build_ivlp_learner, ivlp_official_checkpoint
from dpl.engine import TRAINER_REGISTRY
from dpl.method.templates import IMAGENET_TEMPLATES_60
from dpl.method.text import mean_text_features
from dpl.method.trainer_base import PromptTrainer


def extend_cfg(cfg):
    cfg.TRAINER.PROMPTSRC = CN()
    cfg.TRAINER.PROMPTSRC.N_CTX_VISION = 4
    cfg.TRAINER.PROMPTSRC.N_CTX_TEXT = 4
    cfg.TRAINER.PROMPTSRC.CTX_INIT = "a photo of a"
    cfg.TRAINER.PROMPTSRC.PROMPT_DEPTH_VISION = 9
    cfg.TRAINER.PROMPTSRC.PROMPT_DEPTH_TEXT = 9
    # ints as in PromptSRC, so its published yaml files merge unchanged (yacs does not turn an int into a float)
    cfg.TRAINER.PROMPTSRC.TEXT_LOSS_WEIGHT = 25
    cfg.TRAINER.PROMPTSRC.IMAGE_LOSS_WEIGHT = 10
    cfg.TRAINER.PROMPTSRC.GPA_MEAN = 15
    cfg.TRAINER.PROMPTSRC.GPA_STD = 1
    cfg.TRAINER.PROMPTSRC.PREC = "fp16"
    cfg.TRAINER.PROMPTSRC.LOSS_FP32 = False  # True: losses on float32 copies of the fp16 logits (official: fp16)


def gpa_weights(n_epochs, mean, std):
    """Normalised Gaussian weights of epochs 1..n_epochs (peak at epoch ``mean``)."""
    raw = [math.exp(-0.5 * ((e - mean) / std) ** 2) for e in range(1, n_epochs + 1)]
    total = sum(raw)
    return [w / total for w in raw]


class SelfRegulatedLearner(DeepPromptLearner):
    """IVLP learner that, in training, also leaves the prompted and frozen features and logits the self-regularising
    terms compare in ``regularised`` (``{term: (prompted, frozen)}``)."""

    def __init__(self, clip_model, prompt_learner, classnames):
        super().__init__(clip_model, prompt_learner)
        self.classnames = list(classnames)
        self.regularised = {}
        # Frozen text features; computed on first training use (evaluation never needs them), then kept.
        self.register_buffer("frozen_text_features", None, persistent=False)

    def frozen_text(self):
        if self.frozen_text_features is None:
            print(f"Computing frozen text features over {len(IMAGENET_TEMPLATES_60)} ImageNet templates (once)")
            self.frozen_text_features = mean_text_features(self.clip, self.classnames, IMAGENET_TEMPLATES_60)
        return self.frozen_text_features

    def forward(self, images):
        image_features = self.image_features(images)
        text_features = self.class_text_features()
        logits = self.logits_from(image_features, text_features)
        if self.training:
            frozen_text = self.frozen_text()
            with torch.no_grad():
                frozen_image = self.encode_images(images)  # the same CLIP, no prompts
                frozen_logits = self.logits_from(frozen_image, frozen_text)
            # what the trainer's loss reads; kept, not reduced here, so its precision follows TRAINER.PROMPTSRC.LOSS_FP32
            self.regularised = {"text": (text_features, frozen_text), "image": (image_features, frozen_image),
                                "logits": (logits, frozen_logits)}
        return logits


@TRAINER_REGISTRY.register()
class PromptSRC(PromptTrainer):
    CONFIG_NODE = "PROMPTSRC"
    # IVLP's names, plus the frozen copy of the image tower PromptSRC keeps in its prompt learner
    OFFICIAL_CHECKPOINT = ivlp_official_checkpoint("PromptSRC (muzairkhattak/PromptSRC)",
                                                   ignored=(r"prompt_learner\.ZS_image_encoder\..*",))

    def build_learner(self, cfg, classnames, clip_model):
        # later_clips: the official prompt learner builds two frozen CLIPs after its context
        learner = build_ivlp_learner(cfg, classnames, clip_model, self.CONFIG_NODE,
                                     learner_cls=lambda clip, prompts: SelfRegulatedLearner(clip, prompts, classnames),
                                     rng_before_clip=getattr(self, "rng_before_clip", None), later_clips=2)
        c = self.method_cfg
        self.gpa = gpa_weights(cfg.OPTIM.MAX_EPOCH, c.GPA_MEAN, c.GPA_STD)
        self.gpa_state = None
        return learner

    def compute_loss(self, output, label, batch):
        """The official sum and dtypes: by default every term on the fp16 values (the text term compares fp16
        features with the fp32 target, so torch promotes it to fp32), CE + (KL + text + image);
        ``LOSS_FP32`` runs each on float32 copies."""
        c, cast = self.method_cfg, self.loss_input
        pairs = self.model.regularised
        logits, frozen_logits = (cast(v) for v in pairs["logits"])
        ce = F.cross_entropy(cast(output), label)
        l1_text, l1_image = (F.l1_loss(*(cast(v) for v in pairs[k])) for k in ("text", "image"))
        scl_logits = F.kl_div(F.log_softmax(logits, dim=1), F.log_softmax(frozen_logits, dim=1), reduction="sum",
                              log_target=True) / logits.numel()
        loss = ce + (scl_logits + l1_text * c.TEXT_LOSS_WEIGHT + l1_image * c.IMAGE_LOSS_WEIGHT)
        terms = {"ce": ce, "scl_text": l1_text, "scl_image": l1_image, "scl_logits": scl_logits}
        return loss, {k: v.item() for k, v in terms.items()}

    # ---- Gaussian prompt aggregation ---------------------------------------------------------------
    # The running sum travels in the epoch's checkpoint (not a file of its own), so a resume always continues
    # the sum of exactly the epochs its prompts have seen.
    def checkpoint_extras(self):
        extras = super().checkpoint_extras()
        if self.gpa_state is not None:
            extras["gpa"] = {"epochs_done": self.epoch + 1, "sum": self.gpa_state}
        return extras

    def restore_checkpoint_extras(self, checkpoint):
        super().restore_checkpoint_extras(checkpoint)
        saved = checkpoint.get("gpa")
        if saved is not None and saved.get("epochs_done") == checkpoint.get("epoch"):
            self.gpa_state = {k: v.to(self.device) for k, v in saved["sum"].items()}
            print(f"GPA: resumed the running sum of epochs 1..{saved['epochs_done']}")
        else:
            print(f"Warning: the checkpoint of epoch {checkpoint.get('epoch')} holds no GPA running sum (written by "
                  "an older version); the aggregate covers the remaining epochs only")

    def after_epoch(self):
        weight = self.gpa[self.epoch]
        state = {k: v.detach().float() * weight for k, v in self.model.prompt_learner.state_dict().items()}
        self.gpa_state = state if self.gpa_state is None else {k: self.gpa_state[k] + v for k, v in state.items()}
        if self.epoch + 1 == self.max_epoch:
            print("GPA: loading the Gaussian-weighted average of the prompts of every epoch")
            current = self.model.prompt_learner.state_dict()
            self.model.prompt_learner.load_state_dict({k: v.to(current[k].dtype) for k, v in self.gpa_state.items()})
        super().after_epoch()

"""Zero-shot CLIP: hand-crafted prompt per dataset (as CoOp), or an ensemble of templates. Nothing is learned."""
import torch.nn as nn
from yacs.config import CfgNode as CN

from dpl.engine import TRAINER_REGISTRY
from dpl.errors import ConfigError
from dpl.method.templates import IMAGENET_TEMPLATES, IMAGENET_TEMPLATES_SELECT, dataset_template
from dpl.method.text import zero_shot_text_features
from dpl.method.trainer_base import CLIPLearner, PromptTrainer


def extend_cfg(cfg):
    cfg.TRAINER.ZSCLIP = CN()
    cfg.TRAINER.ZSCLIP.PREC = "fp16"
    # "dataset": CoOp's prompt per dataset; "ensemble": that prompt + CoOp's 7 ImageNet templates;
    # "imagenet80": CLIP's 80 ImageNet templates
    cfg.TRAINER.ZSCLIP.TEMPLATES = "dataset"


def templates_for(choice, dataset_name):
    own = dataset_template(dataset_name)
    options = {"dataset": [own], "ensemble": IMAGENET_TEMPLATES_SELECT + [own], "imagenet80": IMAGENET_TEMPLATES}
    if choice not in options:
        raise ConfigError(f"TRAINER.ZSCLIP.TEMPLATES is {choice!r}; expected one of {', '.join(options)}")
    return options[choice]


class ZeroShotLearner(CLIPLearner):
    def __init__(self, clip_model, classnames, templates):
        super().__init__(clip_model)
        self.prompt_learner = nn.Module()  # nothing to learn
        print(f"Prompt templates: {len(templates)} (first: {templates[0]!r})")
        self.register_buffer("text_features", zero_shot_text_features(clip_model, classnames, templates),
                             persistent=False)

    def class_text_features(self):
        return self.text_features


@TRAINER_REGISTRY.register()
class ZeroshotCLIP(PromptTrainer):
    CONFIG_NODE = "ZSCLIP"

    def build_learner(self, cfg, classnames, clip_model):
        return ZeroShotLearner(clip_model, classnames, templates_for(self.method_cfg.TEMPLATES, cfg.DATASET.NAME))

    def build_model(self):
        self.clip = self.load_frozen_clip()
        self.model = self.build_learner(self.cfg, self.dm.dataset.classnames, self.clip).to(self.device)

    def train(self, *args, **kwargs):
        raise ConfigError("ZeroshotCLIP learns nothing: run train.py with --eval-only")

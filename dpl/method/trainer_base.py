"""What every CLIP prompt-learning trainer shares: frozen CLIP in the configured precision, a learner whose
``prompt_learner`` is the only thing optimised and checkpointed, AMP, and class text features computed
once per evaluation instead of once per test batch."""
import contextlib
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from dpl.backbones.loading import load_backbone
from dpl.runs.config_checks import check_values
from dpl.engine import TrainerX
from dpl.engine.metrics import compute_accuracy
from dpl.engine.optim import build_lr_scheduler, build_optimizer
from dpl.errors import ConfigError
from dpl.method.official_checkpoints import is_native, learner_state
from dpl.method.official_draws import has_official_constructor, replay_clip_constructor
from dpl.prompting import PromptedCLIP

PRECISIONS = ("fp16", "fp32", "amp")
# PREC fp16 on the CPU runs in fp32 (fp16 there is several times slower: 3.3x measured, ~10x reported); "1" keeps
# fp16 (the suite's bit-exact checks of the official fp16 scheme).
CPU_FP16_ENV = "DPL_CPU_FP16"


def make_grad_scaler(precision, device):
    """The loss scaler of fp16 autocast: ``amp`` on CUDA (fp16 gradients underflow without it); None for fp32,
    fp16 weights (the official codebases train those unscaled) and amp on CPU (bf16 needs no scaling)."""
    device = torch.device(device)
    if precision != "amp" or device.type != "cuda":
        return None
    return torch.amp.GradScaler(device.type)


class CLIPLearner(nn.Module):
    """Base of every learner: frozen ``self.clip`` (a PromptedCLIP) plus learned ``self.prompt_learner``.

    Subclasses implement ``class_text_features()`` and, when their image tower is prompted,
    ``image_features()``.
    """

    cache_text_features = True  # False when text depends on the image (CoCoOp)

    def __init__(self, clip_model):
        super().__init__()
        self.clip = clip_model

    @property
    def dtype(self):
        return self.clip.dtype

    def encode_images(self, images, prompts=None):
        return F.normalize(self.clip.encode_image(images.type(self.dtype), prompts), dim=-1)

    def image_features(self, images):
        return self.encode_images(images)

    def class_text_features(self):
        raise NotImplementedError

    def logits_from(self, image_features, text_features):
        scale = self.clip.logit_scale.exp()
        return scale * image_features @ text_features.type(image_features.dtype).t()

    def forward(self, images):
        return self.logits_from(self.image_features(images), self.class_text_features())


class PromptTrainer(TrainerX):
    """Subclasses set ``CONFIG_NODE`` (their ``cfg.TRAINER`` node) and implement ``build_learner``;
    ``OFFICIAL_CHECKPOINT`` (an ``OfficialCheckpoint``) lets ``--eval-only`` read the official codebase's checkpoints."""

    CONFIG_NODE = None
    OFFICIAL_CHECKPOINT = None
    # True: after loading CLIP the RNG stands where the official trainer's ``clip.build_model`` leaves it (its
    # throwaway initialisation of a stock CLIP), whatever our loader drew (tiny-random and cached loads draw nothing)
    OFFICIAL_CLIP_DRAWS = False

    @property
    def method_cfg(self):
        return self.cfg.TRAINER[self.CONFIG_NODE]

    def check_cfg(self, cfg):
        check_values(cfg)  # every value a run cannot work with, also for a config not built by setup_cfg
        prec = cfg.TRAINER[self.CONFIG_NODE].PREC
        if prec not in PRECISIONS:
            raise ConfigError(f"TRAINER.{self.CONFIG_NODE}.PREC is {prec!r}; expected one of {', '.join(PRECISIONS)}")

    # ---- model -------------------------------------------------------------------------------------
    def build_learner(self, cfg, classnames, clip_model):
        raise NotImplementedError

    def extra_models(self):
        """Further ``(name, module, optimizer, scheduler)`` to register (e.g. DPLSearch's alphas)."""
        return []

    def build_model(self):
        self.clip = self.load_frozen_clip()
        print(f"Building the {type(self).__name__} learner")
        self.model = self.build_learner(self.cfg, self.dm.dataset.classnames, self.clip).to(self.device)
        self.register_learner()

    def load_frozen_clip(self):
        cfg = self.cfg
        # where the official set-up starts building CLIP: baselines whose official code draws prompts inside the
        # CLIP constructor replay those draws from here (dpl/method/official_draws.py)
        self.rng_before_clip = torch.get_rng_state()
        self.precision = self._precision_on_device(self._resolve_precision(self.method_cfg.PREC))
        dtype = torch.float16 if self.precision == "fp16" else torch.float32  # fp16: OpenAI's convert_weights
        backbone = cfg.MODEL.BACKBONE
        print(f"Loading CLIP (backbone: {backbone.NAME}, precision: {self.precision})")
        model, tokenizer = load_backbone(backbone.NAME, path=backbone.PATH, pretrained=backbone.PRETRAINED,
                                         device=self.device, dtype=dtype)
        model.requires_grad_(False)
        clip_model = PromptedCLIP(model, tokenizer, full_text_context=cfg.MODEL.FULL_TEXT_CONTEXT)
        if self.OFFICIAL_CLIP_DRAWS and has_official_constructor(clip_model):
            torch.set_rng_state(self.rng_before_clip)
            replay_clip_constructor(model)
        resolution = clip_model.input_resolution
        if tuple(cfg.INPUT.SIZE) != (resolution, resolution):
            raise ConfigError(f"INPUT.SIZE is {tuple(cfg.INPUT.SIZE)} but backbone {backbone.NAME} takes "
                              f"{resolution}x{resolution} images; set INPUT.SIZE ({resolution}, {resolution})")
        if clip_model.family.name != "openai":
            print(f"Image preprocessing of {backbone.NAME}: size {tuple(cfg.INPUT.SIZE)}, mean {list(cfg.INPUT.PIXEL_MEAN)}, "
                  f"std {list(cfg.INPUT.PIXEL_STD)}, interpolation {cfg.INPUT.INTERPOLATION}")
        return clip_model

    def _resolve_precision(self, prec):
        """The precision this run uses for ``PREC`` (a trainer whose official code ignores PREC overrides it)."""
        return prec

    def _precision_on_device(self, precision):
        """fp32 for fp16 on a CPU (no CUDA): the same numbers up to rounding, several times faster; CUDA unchanged."""
        if precision != "fp16" or self.device.type != "cpu" or os.environ.get(CPU_FP16_ENV) == "1":
            return precision
        print(f"Note: TRAINER.{self.CONFIG_NODE}.PREC is fp16, but this run is on the CPU, where fp16 is several "
              f"times slower than fp32: running in fp32 (set {CPU_FP16_ENV}=1 to keep fp16)")
        return "fp32"

    def register_learner(self):
        learned = self.model.prompt_learner
        n_params = sum(p.numel() for p in learned.parameters() if p.requires_grad)
        print(f"# learned parameters: {n_params:,}")
        self.optim = build_optimizer(learned, self.cfg.OPTIM)
        self.sched = build_lr_scheduler(self.optim, self.cfg.OPTIM)
        self.register_model("prompt_learner", learned, self.optim, self.sched)
        for name, module, optim, sched in self.extra_models():
            self.register_model(name, module, optim, sched)
        self.scaler = make_grad_scaler(self.precision, self.device)

    # ---- checkpoints of the official codebases (eval-only) ------------------------------------------------
    def foreign_model_dir(self, directory, name):
        """The folder the official trainer saved ``prompt_learner`` under (e.g. MaPLe's MultiModalPromptLearner)."""
        official = self.OFFICIAL_CHECKPOINT
        if official is None or name != "prompt_learner":
            return None
        return os.path.join(directory, official.folder)

    def load_state_into(self, name, checkpoint, path):
        state = checkpoint.get("state_dict")
        module = self._models[name]
        if self.OFFICIAL_CHECKPOINT is not None and isinstance(state, dict) and not is_native(state, module):
            checkpoint = {**checkpoint, "state_dict": learner_state(self.OFFICIAL_CHECKPOINT, state, module, path)}
        super().load_state_into(name, checkpoint, path)

    def checkpoint_extras(self):
        # The loss scale evolves during training; a resume that restarted it would skip different steps.
        return {"grad_scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def restore_checkpoint_extras(self, checkpoint):
        state = checkpoint.get("grad_scaler")
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
            print(f"Restored the AMP grad scaler (scale {self.scaler.get_scale():g})")

    def autocast(self):
        if self.precision != "amp":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # ---- training ----------------------------------------------------------------------------------
    @property
    def loss_fp32(self):
        """``TRAINER.<NODE>.LOSS_FP32``: losses on float32 copies of fp16 values. The baselines default to False,
        their official trainers' fp16 losses; a node without the key (DPL's) keeps float32."""
        return bool(self.method_cfg.get("LOSS_FP32", True))

    def loss_input(self, values):
        """``values`` as the loss reads them: a float32 copy with ``LOSS_FP32``, else as computed."""
        return values.float() if self.loss_fp32 else values

    def compute_loss(self, output, label, batch):
        """Loss of one training batch and extra values for the log line; override to add terms."""
        return F.cross_entropy(self.loss_input(output), label), {}

    def backward_and_update(self, loss, names=None):
        if self.scaler is None:
            self.model_backward_and_update(loss, names)
            return
        names = self.get_model_names(names)
        self.model_zero_grad(names)
        self.scaler.scale(loss).backward()
        self.sync_gradients(names)  # scaled gradients: the scaler unscales the combined ones
        for name in names:
            if self._optims[name] is not None:
                self.scaler.step(self._optims[name])
        self.scaler.update()

    def forward_backward(self, batch):
        image, label = self.parse_batch_train(batch)
        with self.autocast():
            output = self.model(image)
            loss, extra = self.compute_loss(output, label, batch)
        self.backward_and_update(loss, names=["prompt_learner"])
        summary = {"loss": loss.item(), "acc": compute_accuracy(output, label)[0].item(), **extra}
        if (self.batch_idx + 1) == self.num_batches:
            self.update_lr()
        return summary

    # ---- evaluation --------------------------------------------------------------------------------
    def before_test(self):
        self._eval_text_features = None
        if self.model.cache_text_features:
            with torch.no_grad(), self.autocast():
                self._eval_text_features = self.model.class_text_features()

    def model_inference(self, images):
        with self.autocast():
            text = getattr(self, "_eval_text_features", None)
            if text is None:
                return self.model(images)
            return self.model.logits_from(self.model.image_features(images), text)

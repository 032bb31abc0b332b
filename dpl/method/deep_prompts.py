"""What the deep-prompt baselines share (IVLP, VPT, MaPLe, PromptSRC): the per-layer layout from a hand design
or ``TRAINER.LAYOUT``, the learned prompts (text layer 0 = learned context at the input, deeper layers and the
vision tower = ``ReplacePrompt`` blocks), and the learner that runs the prompted towers."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from dpl.errors import ConfigError
from dpl.method.layout_config import layout_from_cfg
from dpl.method.official_checkpoints import CLASS_TOKEN_BUFFERS, FROZEN_IN_WRAPPERS, OfficialCheckpoint
from dpl.method.official_draws import has_official_constructor, replay_clip_constructor
from dpl.prompting import LayerPrompts, PromptLayout
from dpl.method.text_context import TextContext
from dpl.method.trainer_base import CLIPLearner


def _first_layers(length, depth, n_layers, what):
    """``length`` tokens in the first ``depth`` of ``n_layers`` layers (depth -1 = every layer of the loaded model;
    a larger depth is capped to the model, with a note)."""
    if depth == -1:
        depth = n_layers
    if length < 0 or depth < 0:
        raise ConfigError(f"{what}: prompt length {length} must be >= 0 and depth {depth} >= 0 (or -1 = all layers)")
    if depth > n_layers and length > 0:
        print(f"Note: {what} is {depth} but the model has {n_layers} layers; prompting all {n_layers}")
    depth = min(depth, n_layers) if length > 0 else 0
    return [length] * depth + [0] * (n_layers - depth)


def hand_layout(clip_model, backbone, vision=(0, 0), text=(0, 0), node="TRAINER",
                depth_keys=("PROMPT_DEPTH_VISION", "PROMPT_DEPTH_TEXT")):
    """A method's hand design as a layout: ``vision`` / ``text`` are (tokens per layer, depth); depth 0 leaves
    that tower unprompted. ``depth_keys`` name the config keys in messages."""
    (n_v, d_v), (n_t, d_t) = vision, text
    return PromptLayout(
        vision=_first_layers(n_v, d_v, clip_model.vision_layers, f"{node}.{depth_keys[0]}"),
        text=_first_layers(n_t, d_t, clip_model.text_layers, f"{node}.{depth_keys[1]}"),
        max_length=max(n_v, n_t, 1), backbone=backbone,
        source=f"hand design: vision {n_v} tokens x {d_v} layers, text {n_t} tokens x {d_t} layers")


def method_layout(cfg, clip_model, default):
    """``TRAINER.LAYOUT`` when set, else the method's hand design ``default``; printed either way."""
    # A JSON layout is checked against its own max_length, uniform:K against K; random:SEED draws lengths up to
    # the method's own token count, and zero needs a number too.
    spec = str(cfg.TRAINER.LAYOUT).strip()
    limit = default.max_length if spec == "zero" or spec.startswith("random:") else None
    layout = layout_from_cfg(cfg, clip_model, max_length=limit, default=default)
    if layout is default:
        print(f"Prompt layout ({default.source}): {default.summary()}")
    return layout


def ivlp_layout(cfg, clip_model, node):
    """IVLP / PromptSRC layout: N_CTX_* tokens in the first PROMPT_DEPTH_* layers of each tower."""
    c = cfg.TRAINER[node]
    default = hand_layout(clip_model, cfg.MODEL.BACKBONE.NAME, vision=(c.N_CTX_VISION, c.PROMPT_DEPTH_VISION),
                          text=(c.N_CTX_TEXT, c.PROMPT_DEPTH_TEXT), node=f"TRAINER.{node}")
    return method_layout(cfg, clip_model, default)


def without(layout, vision=False, text_input=False, text=False):
    """A copy of ``layout`` with the vision branch, text layer 0 or the whole text branch set to zero."""
    v = [0] * len(layout.vision) if vision else list(layout.vision)
    t = [0] * len(layout.text) if text else list(layout.text)
    if text_input:
        t[0] = 0
    return PromptLayout(v, t, max(max(v + t, default=0), 1), backbone=layout.backbone, source=layout.source)


class DeepPrompts(nn.Module):
    """Everything a deep-prompt learner learns: ``context`` (text layer 0, at the input) and ``layers``
    (``ReplacePrompt`` parameters of the deeper text layers and of every vision layer)."""

    def __init__(self, clip_model, classnames, layout, ctx_init="", prompt_vision=True, node="TRAINER"):
        super().__init__()
        self.layout = layout
        self.context = TextContext(clip_model, classnames, layout.text[0], ctx_init, node=node)
        self.build_before_layers(clip_model, layout)
        deep = without(layout, vision=not prompt_vision, text_input=True)
        # fp32 whatever CLIP's precision, as the official code keeps them (fp16 storage would round most SGD
        # updates away); only the input context follows CLIP's dtype
        self.layers = LayerPrompts(deep, clip_model.vision_width, clip_model.text_width, kind="replace")

    def build_before_layers(self, clip_model, layout):
        """Parameters a method draws between the context and the deep prompts (its official draw order)."""

    def vision_prompts(self):
        return self.layers.vision_prompts()

    def text_prompts(self):
        return self.layers.text_prompts()


class DeepPromptLearner(CLIPLearner):
    """Runs both towers with the prompts of ``prompt_learner`` (any module with ``vision_prompts()``, and,
    for a prompted text tower, ``context`` and ``text_prompts()``)."""

    def __init__(self, clip_model, prompt_learner):
        super().__init__(clip_model)
        self.prompt_learner = prompt_learner

    def image_features(self, images):
        return self.encode_images(images, self.prompt_learner.vision_prompts())

    def class_text_features(self):
        context = self.prompt_learner.context
        features = self.clip.encode_text(context.embeddings(), context.eot_index,
                                         prompts=self.prompt_learner.text_prompts(), n_input_prompts=context.n_ctx)
        return F.normalize(features, dim=-1)


def draw_in_official_order(clip_model, layer_prompts, rng_before_clip, context=None, later_clips=0):
    """Give ``layer_prompts`` (a ``LayerPrompts``) and a randomly initialised ``context`` the values the official
    IVLP / VPT / PromptSRC set-up draws for the same seed: from ``rng_before_clip`` (the RNG state before CLIP was
    loaded), the deep prompts inside the CLIP constructor, then the context, then ``later_clips`` more CLIP
    constructions (PromptSRC's frozen copies); the global RNG is left after them. No-op without an official
    counterpart (open_clip backbones) or a saved state."""
    if rng_before_clip is None or not has_official_constructor(clip_model):
        return
    torch.set_rng_state(rng_before_clip)
    has = {b: bool(len(getattr(layer_prompts, b))) for b in ("vision", "text")}
    lengths = {b: [len(getattr(layer_prompts, b)[str(l)]) if str(l) in getattr(layer_prompts, b) else 0
                   for l in range(layer_prompts.num_layers[b])] if has[b] else [] for b in ("vision", "text")}
    drawn = replay_clip_constructor(clip_model.model, lengths["vision"], lengths["text"])
    ctx = None
    if context is not None and context.random_init:
        ctx = torch.empty(context.ctx.shape, dtype=clip_model.dtype)  # the official ctx_vectors, in CLIP's dtype
        nn.init.normal_(ctx, std=0.02)
    for _ in range(later_clips):
        replay_clip_constructor(clip_model.model)
    with torch.no_grad():
        for branch, values in drawn.items():
            params = getattr(layer_prompts, branch)
            if set(values) != {int(k) for k in params}:
                raise RuntimeError(f"official draw replay: {branch} layers {sorted(values)} but the learner has "
                                   f"{sorted(int(k) for k in params)}")
            for layer, value in values.items():
                params[str(layer)].copy_(value)
        if ctx is not None:
            context.ctx.copy_(ctx)


def build_ivlp_learner(cfg, classnames, clip_model, node, learner_cls=DeepPromptLearner, rng_before_clip=None,
                       later_clips=0):
    """The IVLP learner (also PromptSRC's) from ``cfg.TRAINER[node]`` or ``TRAINER.LAYOUT``, its initial values
    drawn in the official order when ``rng_before_clip`` is given."""
    layout = ivlp_layout(cfg, clip_model, node)
    prompts = DeepPrompts(clip_model, classnames, layout, cfg.TRAINER[node].CTX_INIT, node=f"TRAINER.{node}")
    draw_in_official_order(clip_model, prompts.layers, rng_before_clip, prompts.context, later_clips)
    return learner_cls(clip_model, prompts)


# The official IVLP (MaPLe's repository) and PromptSRC register their whole CLIP wrapper as "VLPromptLearner": the
# text context is prompt_learner.ctx, the vision prompt of layer 0 image_encoder.VPT, deeper layers' prompts
# <tower>.transformer.resblocks.<l>.VPT_shallow.
IVLP_RULES = [(r"prompt_learner\.ctx", "context.ctx"), (r"image_encoder\.VPT", "layers.vision.0"),
              (r"image_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow", r"layers.vision.\1"),
              (r"text_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow", r"layers.text.\1")]


def ivlp_official_checkpoint(codebase, ignored=()):
    return OfficialCheckpoint(codebase, "VLPromptLearner", rules=IVLP_RULES,
                              ignored=(*CLASS_TOKEN_BUFFERS, *FROZEN_IN_WRAPPERS, *ignored))

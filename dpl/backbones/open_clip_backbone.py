"""open_clip backbones (optional extra ``[open_clip]``): ``MODEL.BACKBONE.NAME open_clip:<model>`` with
``MODEL.BACKBONE.PRETRAINED`` a tag of that model (resolved through open_clip's own cache), a weights file, or
``random`` (seeded random weights, smoke runs only). The tokenizer and the image preprocessing (size, mean, std,
interpolation) are open_clip's for that model and tag.

Only open_clip's native towers are accepted (``open_clip.CLIP`` with its ``VisionTransformer`` and text
``Transformer`` of ``ResidualAttentionBlock``s over ``nn.MultiheadAttention``): the prompt mechanism runs over exactly
those modules. Towers built from timm or Hugging Face, custom attention blocks, attentional pooling and
sigmoid-loss (logit bias) models are refused before any weights are fetched.

Precision ``fp16`` is open_clip's own scheme (``create_model(precision="fp16")``, the analogue of OpenAI's
``convert_weights``): conv / linear / attention weights and the projections in fp16, LayerNorms built as
``LayerNormFp32`` (fp32 weights, computed in fp32), embeddings and ``logit_scale`` fp32.
"""
import os
from dataclasses import asdict

import torch

from dpl.errors import BackboneError, UnknownNameError, did_you_mean

PREFIX = "open_clip:"
RANDOM = "random"
TINY = "dpl-tiny"  # dpl/resources/open_clip/dpl-tiny.json: a small native ViT for smoke runs and tests
CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "resources", "open_clip")
EXAMPLES = "ViT-B-16, ViT-B-16-quickgelu, ViT-L-14, ViT-H-14"
CUSTOM_BLOCK_KEYS = ("qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc")


def is_open_clip_name(name):
    return str(name).startswith(PREFIX)


def model_name(name):
    return str(name)[len(PREFIX):]


def import_open_clip():
    """open_clip, with the project's small configs registered; BackboneError naming the extra when missing."""
    try:
        import open_clip
    except ImportError as e:
        raise BackboneError(f"open_clip backbones need the open-clip-torch package ({e}); install the extra: "
                            'pip install -e ".[open_clip]"') from None
    if TINY not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR)
    return open_clip


def _refuse(name, what):
    return BackboneError(f"open_clip model {name}: {what}. DPL prompts open_clip's native ViT towers only "
                         f"(open_clip.CLIP with VisionTransformer / Transformer blocks over nn.MultiheadAttention), "
                         f"e.g. {EXAMPLES}.")


def check_config(name, cfg):
    """Refuse, from its config alone (before any download), a model whose towers the prompts cannot run over."""
    vision, text = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    if vision.get("timm_model_name"):
        raise _refuse(name, f"its image tower is built from timm ({vision['timm_model_name']})")
    if isinstance(vision.get("layers"), (list, tuple)):
        raise _refuse(name, "its image tower is a ResNet (the prompted trainers need a ViT)")
    if text.get("hf_model_name"):
        raise _refuse(name, f"its text tower is built from Hugging Face ({text['hf_model_name']})")
    if "multimodal_cfg" in cfg or cfg.get("custom_text"):
        raise _refuse(name, "it has a custom text tower (CustomTextCLIP / CoCa)")
    for tower, tower_cfg in (("image", vision), ("text", text)):
        custom = [k for k in CUSTOM_BLOCK_KEYS if tower_cfg.get(k)]
        if custom or tower_cfg.get("block_type") == "custom":
            raise _refuse(name, f"its {tower} tower has custom attention blocks ({', '.join(custom) or 'custom'})")
    if vision.get("attentional_pool") or vision.get("pool_type", "tok") != "tok":
        raise _refuse(name, "its image tower pools with attention or averaging, not the class token")
    if text.get("pool_type", "argmax") != "argmax" or text.get("embed_cls"):
        raise _refuse(name, f"its text tower pools at {text.get('pool_type')!r}, not at the end-of-text token")
    if text.get("proj_type") == "none":
        raise _refuse(name, "its text tower has no projection")
    if cfg.get("init_logit_bias") is not None:
        raise _refuse(name, "it is a sigmoid-loss model with a logit bias")


def check_model(model, name=""):
    """The same refusals on a built open_clip model (the prompted encoders call this for any model they get)."""
    import open_clip
    import torch.nn as nn
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    name = name or type(model).__name__
    if type(model) is not open_clip.CLIP:
        raise _refuse(name, f"its model class is {type(model).__name__} (a text tower from Hugging Face or a custom "
                            "text config)")
    visual = model.visual
    if not isinstance(visual, VisionTransformer):
        raise _refuse(name, f"its image tower is a {type(visual).__name__} (timm or ResNet), not open_clip's "
                            "VisionTransformer")
    if visual.attn_pool is not None or visual.pool_type != "tok":
        raise _refuse(name, "its image tower pools with attention or averaging, not the class token")
    for tower, blocks in (("image", visual.transformer.resblocks), ("text", model.transformer.resblocks)):
        for block in blocks:
            attn = getattr(block, "attn", None)
            if (type(block) is not ResidualAttentionBlock or not isinstance(attn, nn.MultiheadAttention)
                    or hasattr(block, "ln_1_kv") or not attn._qkv_same_embed_dim or attn.bias_k is not None):
                raise _refuse(name, f"its {tower} tower has custom attention blocks ({type(block).__name__})")
    if getattr(model, "text_pool_type", "argmax") != "argmax":
        raise _refuse(name, f"its text tower pools at {model.text_pool_type!r}, not at the end-of-text token")
    if model.text_projection is None:
        raise _refuse(name, "its text tower has no projection")
    if getattr(model, "logit_bias", None) is not None:
        raise _refuse(name, "it is a sigmoid-loss model with a logit bias")


def supported_models(open_clip):
    """open_clip's built-in model names whose towers the prompts can run over."""
    names = []
    for name in open_clip.list_models():
        try:
            check_config(name, open_clip.get_model_config(name))
        except BackboneError:
            continue
        names.append(name)
    return names


def _config(open_clip, arch):
    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        names = supported_models(open_clip)
        raise UnknownNameError(f'Unknown open_clip model "{arch}" (MODEL.BACKBONE.NAME {PREFIX}{arch}).'
                               f"{did_you_mean(arch, names)} Supported (open_clip's native ViTs): {', '.join(names)}.")
    check_config(arch, cfg)
    return cfg


def resolve_pretrained(open_clip, arch, pretrained):
    """(kind, value): ("random", None), ("tag", tag) or ("file", path), or a BackboneError saying what is expected."""
    pretrained = str(pretrained or "").strip()
    tags = open_clip.list_pretrained_tags_by_model(arch)
    choices = f"a tag of {arch} ({', '.join(tags) or 'open_clip has none'}), a weights file, or {RANDOM}"
    if not pretrained:
        raise BackboneError(f"MODEL.BACKBONE.PRETRAINED is empty for the open_clip backbone {PREFIX}{arch}; give "
                            f"{choices} (random weights are for smoke runs only).")
    if pretrained == RANDOM:
        return RANDOM, None
    tag_cfg = open_clip.get_pretrained_cfg(arch, pretrained)
    if tag_cfg:
        _check_activation(open_clip, arch, pretrained, tag_cfg)
        return "tag", pretrained
    path = os.path.expanduser(pretrained)
    if os.path.isfile(path):
        return "file", path
    if os.sep in pretrained or os.path.splitext(pretrained)[1]:
        raise BackboneError(f"MODEL.BACKBONE.PRETRAINED {pretrained}: no such file (expected the {arch} weights "
                            "file, e.g. open_clip_model.safetensors or a .pt / .bin state dict).")
    raise UnknownNameError(f"MODEL.BACKBONE.PRETRAINED {pretrained!r} is not a tag of open_clip {arch}."
                           f"{did_you_mean(pretrained, tags)} Expected {choices}.")


def _check_activation(open_clip, arch, tag, tag_cfg):
    """A tag trained with QuickGELU on a GELU config (or the reverse) loads without error and gives a worse model
    (open_clip only warns): refuse it and name the matching config."""
    trained_quick = bool(tag_cfg.get("quick_gelu", False))
    if trained_quick == bool(open_clip.get_model_config(arch).get("quick_gelu", False)):
        return
    other = arch + "-quickgelu" if trained_quick else arch[:-len("-quickgelu")]
    activation = "QuickGELU" if trained_quick else "GELU"
    raise BackboneError(f"open_clip tag {tag} was trained with {activation}, but the config {arch} uses the other "
                        f"activation; the weights would load and compute something else. Use "
                        f"MODEL.BACKBONE.NAME {PREFIX}{other} with this tag.")


def _where_weights_live(open_clip, arch, tag):
    """Where open_clip looks for a tag's weights, for the message when they are neither cached nor downloadable."""
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import constants

        repo, filename = os.path.split(hub)  # "org/repo/" (default file names) or "org/repo/file"
        files = filename or "open_clip_model.safetensors or open_clip_pytorch_model.bin"
        return (f"open_clip reads them from the Hugging Face hub cache {constants.HF_HUB_CACHE} (repo {repo}, file "
                f"{files}; HF_HOME / HF_HUB_CACHE move it). Fetch the repo where there is internet (huggingface-cli "
                f"download {repo}) and copy that cache folder here")
    url = cfg.get("url", "")
    cache = os.path.expanduser("~/.cache/clip")
    return (f"open_clip reads them from {cache} as {os.path.basename(url)} (downloaded from {url}). Put that file "
            "there")


def input_settings(name, pretrained):
    """open_clip's preprocessing for ``name`` / ``pretrained`` as INPUT values: size, mean, std, interpolation
    (a tag's own values, else open_clip's defaults), plus its resize mode for a note."""
    open_clip = import_open_clip()
    arch = model_name(name)
    cfg = _config(open_clip, arch)
    kind, value = resolve_pretrained(open_clip, arch, pretrained)
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    settings = asdict(PreprocessCfg())
    if kind == "tag":
        settings = merge_preprocess_dict(settings, open_clip.get_pretrained_cfg(arch, value))
    size = cfg["vision_cfg"].get("image_size", settings["size"])
    size = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
    interpolation = settings["interpolation"] if settings["interpolation"] in ("bicubic", "bilinear") else "bicubic"
    return {"size": size, "mean": list(settings["mean"]), "std": list(settings["std"]),
            "interpolation": interpolation, "resize_mode": settings["resize_mode"]}


def load(name, pretrained, device="cpu", dtype=torch.float32):
    """The open_clip ``CLIP`` for ``open_clip:<model>``, in eval mode on ``device`` in ``dtype`` (float32, or float16 by
    open_clip's own scheme), and its tokenizer ``f(texts, context_length)``."""
    open_clip = import_open_clip()
    arch = model_name(name)
    _config(open_clip, arch)
    kind, value = resolve_pretrained(open_clip, arch, pretrained)
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(f"CLIP precision {dtype}; expected torch.float32 or torch.float16")
    precision = "fp16" if dtype == torch.float16 else "fp32"
    if kind == RANDOM:
        print(f"Backbone {name}: random weights (MODEL.BACKBONE.PRETRAINED {RANDOM}); "
              "its accuracies mean nothing")
        with torch.random.fork_rng(devices=[]):  # the same weights in every process, the caller's RNG untouched
            torch.manual_seed(0)
            model = open_clip.create_model(arch, pretrained=None, precision=precision, device="cpu")
    else:
        print(f"Backbone {name}: open_clip {arch} with weights {value}")
        try:
            model = open_clip.create_model(arch, pretrained=value, precision=precision, device="cpu",
                                           require_pretrained=True)
        except Exception as e:  # download, cache, file format: all end in what the user must put where
            detail = f"{type(e).__name__}: {' '.join(str(e).split())[:400]}"
            if kind == "tag":
                raise BackboneError(f"open_clip {arch} weights for tag {value} are not in open_clip's cache and could "
                                    f"not be downloaded ({detail}). {_where_weights_live(open_clip, arch, value)}, or "
                                    "download the weights file and pass its path as MODEL.BACKBONE.PRETRAINED.") from e
            raise BackboneError(f"MODEL.BACKBONE.PRETRAINED {value} does not hold open_clip {arch} weights "
                                f"({detail}).") from e
    check_model(model, arch)
    tokenizer = open_clip.get_tokenizer(arch)
    return model.to(device).eval(), lambda texts, context_length: tokenizer(texts, context_length=context_length)

"""The backbone front door: OpenAI CLIP on top of the ``clip`` package, the ``tiny-random`` smoke-test backbone,
and open_clip's native ViTs (``open_clip:<model>``, see ``backbone_open_clip.py``) through ``load_backbone``.

Where a real OpenAI backbone's weights come from, in order:
1. ``path`` (``MODEL.BACKBONE.PATH``): a file, or a directory holding the official file name;
2. the cache directory (``$DPL_CLIP_CACHE``, else ``~/.cache/clip``) with the official file name;
3. clip's download into the cache directory (only when nothing was found and no ``path`` was given).
A missing real file is an error, never a fallback to ``tiny-random``. Nothing is downloaded at import time.
"""
import contextlib
import os
import shutil
import tempfile
import warnings

import torch
import clip
import clip.clip as clip_impl
from clip.model import CLIP, VisionTransformer, build_model, convert_weights

from dpl.errors import BackboneError, UnknownNameError, did_you_mean
from dpl.backbones.torchscript_weights import read_torchscript_state_dict, torchscript_layout

TINY_NAME = "tiny-random"

# tiny-random's architecture: the smallest CLIP that keeps the real tokenizer (vocab, context length)
# and the real image resolution, so it runs on the same data pipeline as ViT-B/16.
TINY_ARCH = dict(
    embed_dim=64,
    image_resolution=224, vision_layers=4, vision_width=192, vision_patch_size=32,
    context_length=77, vocab_size=49408, transformer_width=128, transformer_heads=2, transformer_layers=3,
)


def available_backbones():
    return clip.available_models() + [TINY_NAME]


def official_filename(name):
    """The file name OpenAI publishes ``name`` under (basename of its download URL), e.g. ``ViT-B-16.pt``."""
    return os.path.basename(clip_impl._MODELS[name])


def clip_cache_dir():
    return os.path.expanduser(os.environ.get("DPL_CLIP_CACHE") or "~/.cache/clip")


def _check_name(name):
    names = available_backbones()
    if name in names:
        return
    raise UnknownNameError(f'Unknown backbone name "{name}" (MODEL.BACKBONE.NAME).{did_you_mean(name, names)} '
                           f"Available: {', '.join(names)}, and open_clip's native ViTs as open_clip:<model> "
                           "(e.g. open_clip:ViT-B-16 with MODEL.BACKBONE.PRETRAINED laion2b_s34b_b88k).")


@contextlib.contextmanager
def _quiet_jit():
    """TorchScript is OpenAI's file format; its deprecation warnings are not the user's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


# ---------------------------------------------------------------------------------------------- tiny-random

def tiny_clip_state_dict(seed=0):
    """The tiny-random weights as a state dict (same keys and dtypes as OpenAI's files after ``build_model``).

    Drawn from a private generator state seeded with ``seed``, so every process gets identical weights and
    the caller's random streams are untouched. Weights are rounded through fp16 where ``build_model``
    stores fp16, so building from this dict reproduces it exactly.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(**TINY_ARCH)
    convert_weights(model)
    return model.state_dict()


def build_tiny_clip(seed=0):
    """The stock ``clip.model.CLIP`` built by ``clip.model.build_model`` from ``tiny_clip_state_dict(seed)``."""
    state_dict = tiny_clip_state_dict(seed)
    with torch.random.fork_rng(devices=[]):  # build_model's throwaway init must not move the caller's RNG
        return build_model(state_dict)


def save_tiny_clip_archive(path, seed=0, jit=True):
    """Write tiny-random to ``path`` as OpenAI's TorchScript archive format (``jit=True``) or a plain state dict.

    The archive is a traced CLIP whose ``torch.jit.load(path).state_dict()`` has OpenAI's keys, so the loader
    (and ``clip.load``) treat it exactly like a downloaded file. Written atomically.
    """
    from dpl.file_io import atomic_open, atomic_torch_save

    if not jit:
        atomic_torch_save(tiny_clip_state_dict(seed), path)
        return path
    model = build_tiny_clip(seed).float()  # trace in fp32: CPU half kernels are not guaranteed
    res = model.visual.input_resolution
    # OpenAI's archives carry these three as tensors (build_model drops them; clip.load(jit=True) reads them)
    sizes = {"input_resolution": res, "context_length": model.context_length, "vocab_size": model.vocab_size}
    for key, value in sizes.items():
        if hasattr(model, key):
            delattr(model, key)
        model.register_buffer(key, torch.tensor(value))
    images = torch.zeros(1, 3, res, res)
    tokens = clip.tokenize(["a photo."], context_length=model.context_length)
    with _quiet_jit():
        traced = torch.jit.trace_module(model, {"encode_image": (images,), "encode_text": (tokens,)})
        with atomic_open(path, "wb") as f:
            torch.jit.save(traced, f)
    return path


# ------------------------------------------------------------------------------------------------ real files

def _from_path(name, path):
    """The weights file ``MODEL.BACKBONE.PATH`` names for ``name``: the file itself, or the official file in a folder."""
    filename, url = official_filename(name), clip_impl._MODELS[name]
    path = os.path.expanduser(str(path))
    if os.path.isdir(path):
        candidate = os.path.join(path, filename)
        if not os.path.isfile(candidate):
            raise BackboneError(f"MODEL.BACKBONE.PATH is the directory {path}, which has no {filename} "
                                f"(the {name} weights, {url}). Put the file there or point "
                                "MODEL.BACKBONE.PATH at the weights file.")
        return candidate
    if os.path.isfile(path):
        return path
    raise BackboneError(f"MODEL.BACKBONE.PATH {path} does not exist; expected the {name} weights file "
                        f"({filename}) or a directory holding it.")


def local_weights_file(name, path=""):
    """The file ``load_clip(name, path)`` would read, without downloading anything: None for tiny-random (built in
    memory) or when the file is not on this machine yet."""
    _check_name(name)
    if name == TINY_NAME:
        return None
    if path:
        return _from_path(name, path)
    cached = os.path.join(clip_cache_dir(), official_filename(name))
    return cached if os.path.isfile(cached) else None


def _locate(name, path):
    """The weights file for real backbone ``name``: from ``path``, the cache dir, or a download."""
    found = local_weights_file(name, path)
    if found or path:
        return found
    return _download(name, clip_impl._MODELS[name], clip_cache_dir(), official_filename(name))


def _download(name, url, cache, filename):
    """clip's download into a private folder inside ``cache``, then an atomic move to ``cache/filename``."""
    print(f"Downloading CLIP {name} weights from {url} to {cache}")
    try:
        os.makedirs(cache, exist_ok=True)
        tmp_dir = tempfile.mkdtemp(dir=cache, prefix=".download-")
    except OSError as e:
        tmp_dir, error = None, e
    if tmp_dir is not None:
        try:
            downloaded = clip_impl._download(url, tmp_dir)
            target = os.path.join(cache, filename)
            os.replace(downloaded, target)
            return target
        except Exception as e:  # network, checksum, disk: all end in the same instruction to the user
            error = e
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    raise BackboneError(
        f"CLIP backbone {name}: {filename} was not found in {cache} and could not be downloaded "
        f"({type(error).__name__}: {error}). Download {url} and put it in {cache} as {filename} "
        f"(or set DPL_CLIP_CACHE to the directory holding it), or pass the file via MODEL.BACKBONE.PATH.")


def _read_state_dict(file):
    """OpenAI TorchScript archive (its tensors read as data: no code of the file is run), or a plain state dict
    (optionally under a "state_dict" key)."""
    prefix = torchscript_layout(file)
    if prefix is not None:
        return read_torchscript_state_dict(file, prefix)
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BackboneError(f"CLIP weights file {file} is neither a TorchScript archive nor a state dict "
                            f"saved with torch.save ({type(e).__name__}: {e}). Replace it with the official "
                            "file.") from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise BackboneError(f"CLIP weights file {file} holds a {type(obj).__name__}, not a state dict of tensors "
                            "(nor a TorchScript archive).")
    return obj


def _build(state_dict, file):
    try:
        return build_model(dict(state_dict))
    except (KeyError, RuntimeError, ValueError, AssertionError, IndexError) as e:
        raise BackboneError(f"CLIP weights file {file} does not hold a CLIP model "
                            f"({type(e).__name__}: {e}).") from e


# ------------------------------------------------------------------------------------------------- public

def load_backbone(name, path="", pretrained="", device="cpu", dtype=torch.float32):
    """``(model, tokenizer)`` for ``MODEL.BACKBONE`` (``NAME``, ``PATH``, ``PRETRAINED``): the stock CLIP in eval mode
    on ``device`` in ``dtype`` and its tokenizer ``f(texts, context_length)``. OpenAI names read ``PATH``;
    ``open_clip:<model>`` names read ``PRETRAINED`` (a tag, a file or ``random``)."""
    from dpl.backbones import open_clip_backbone as backbone_open_clip

    if backbone_open_clip.is_open_clip_name(name):
        if path:
            raise BackboneError(f"MODEL.BACKBONE.PATH is {path}, but open_clip backbones ({name}) take their weights "
                                "from MODEL.BACKBONE.PRETRAINED (a tag, a weights file or random); leave PATH empty.")
        return backbone_open_clip.load(name, pretrained, device=device, dtype=dtype)
    if pretrained:
        raise BackboneError(f"MODEL.BACKBONE.PRETRAINED is {pretrained}, but it is read for open_clip backbones only "
                            f"(open_clip:<model>); OpenAI's {name} takes its weights file from MODEL.BACKBONE.PATH.")
    return load_clip(name, path=path, device=device, dtype=dtype), clip.tokenize


def input_settings(name, pretrained=""):
    """The image preprocessing a backbone wants as INPUT values (``size``, ``mean``, ``std``, ``interpolation``), or
    None when the run's own INPUT config is used (OpenAI CLIP: its configs carry CLIP's values)."""
    from dpl.backbones import open_clip_backbone as backbone_open_clip

    if backbone_open_clip.is_open_clip_name(name):
        return backbone_open_clip.input_settings(name, pretrained)
    return None


def load_clip(name, path="", device="cpu", dtype=torch.float32):
    """The stock ``clip.model.CLIP`` for backbone ``name``, in eval mode, with parameters in ``dtype`` on ``device``.

    ``name``: an OpenAI name (``clip.available_models()``) or ``"tiny-random"`` (built in memory from a fixed
    seed; random weights, for smoke tests only). ``path``: ``MODEL.BACKBONE.PATH`` (file or directory).
    """
    _check_name(name)
    if name == TINY_NAME:
        if path:
            raise BackboneError(f"Backbone {TINY_NAME} is built in memory and reads no file, but "
                                f"MODEL.BACKBONE.PATH is {path}; leave MODEL.BACKBONE.PATH empty or name the "
                                "real backbone the file holds.")
        print(f"Backbone {TINY_NAME}: a smoke-test CLIP with random weights; its accuracies mean nothing")
        model = build_tiny_clip()
    else:
        file = _locate(name, path)
        model = _build(_read_state_dict(file), file)
    return to_precision(model, device, dtype).eval()


def to_precision(model, device, dtype):
    """``model`` on ``device`` in the precision the trainers run it in. float16 is OpenAI's scheme
    (``clip.model.convert_weights``, what ``clip.load`` returns and the official codebases train with): conv,
    linear and attention weights and the projections in fp16; LayerNorms, embeddings and ``logit_scale`` fp32."""
    model = model.to(device=device).float()
    if dtype == torch.float16:
        convert_weights(model)
    elif dtype != torch.float32:
        raise ValueError(f"CLIP precision {dtype}; expected torch.float32 or torch.float16")
    _move_attention_masks(model, device)
    return model


def _move_attention_masks(model, device):
    """The text tower's causal mask is a plain tensor attribute of each stock block (not a buffer), so
    ``.to(device)`` leaves it on the CPU and every layer call would copy it over again."""
    for block in model.transformer.resblocks:
        if torch.is_tensor(getattr(block, "attn_mask", None)):
            block.attn_mask = block.attn_mask.to(device)


def is_vit(model):
    """Whether ``model`` (a stock CLIP or anything exposing ``.visual``) has a ViT image encoder."""
    return isinstance(getattr(model, "visual", None), VisionTransformer)


def require_vit(model, name, backbone=""):
    """BackboneError unless ``model`` has a ViT image encoder; ``name`` is who needs it (e.g. a trainer)."""
    if is_vit(model):
        return
    which = f" {backbone}" if backbone else ""
    kind = type(getattr(model, "visual", None)).__name__
    raise BackboneError(f"{name} needs a ViT image encoder but the backbone{which} has a {kind}; set "
                        "MODEL.BACKBONE.NAME to a ViT (e.g. ViT-B/16, ViT-B/32, ViT-L/14).")

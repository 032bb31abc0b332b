"""What differs between the CLIP implementations the prompted encoders run over, and nothing else: OpenAI's
``clip.model`` and open_clip's native towers have the same submodule names (``conv1``, ``class_embedding``,
``ln_pre``, ``transformer.resblocks``, ``ln_post``, ``proj``, ``token_embedding``, ``ln_final``, ...); they differ in
how a residual block is called (sequence- or batch-first, where the text mask lives), in open_clip's layer scales
(``ls_1`` / ``ls_2``), the tokenizer and a few attribute names. Blocks are run by their own ``forward`` whenever no
key/value prompt changes them."""
import torch
import torch.nn.functional as F

from dpl.errors import BackboneError


def _identity(x):
    return x


class OpenAIFamily:
    """``clip.model.CLIP`` (clip-anytorch): sequence-first blocks that hold the causal mask as ``attn_mask``."""

    name = "openai"

    @staticmethod
    def accepts(model):
        from clip.model import CLIP

        return isinstance(model, CLIP)

    @staticmethod
    def check(model):
        from clip.model import VisionTransformer

        visual = getattr(model, "visual", None)
        if not isinstance(visual, VisionTransformer):
            raise BackboneError(f"prompted CLIP needs a ViT image tower (clip.model.VisionTransformer); this model's "
                                f"is {type(visual).__name__}: use a ViT backbone such as ViT-B/16")

    @staticmethod
    def text_mask(model, block):
        return block.attn_mask

    @staticmethod
    def run_block(block, x, mask):
        return block(x)  # slices its own mask

    @staticmethod
    def layer_norm(ln, x):
        """``ln(x)`` for a block's LayerNorm. clip.model.LayerNorm casts x to float32 and back; on a float32 x the
        two casts change nothing but are two operator calls per use, so that case calls the normalisation itself."""
        from clip.model import LayerNorm

        if x.dtype == torch.float32 and type(ln) is LayerNorm:
            return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        return ln(x)

    @staticmethod
    def layer_scales(block):
        return _identity, _identity

    @staticmethod
    def input_resolution(visual):
        return visual.input_resolution

    @staticmethod
    def default_tokenizer():
        import clip

        return clip.tokenize


class OpenCLIPFamily:
    """open_clip's ``CLIP`` with native towers: blocks take the mask as an argument, are batch-first in current
    releases (``attn.batch_first``), and may scale each branch (``ls_1`` / ``ls_2``, identity when unused)."""

    name = "open_clip"

    @staticmethod
    def accepts(model):
        return type(model).__module__.split(".")[0] == "open_clip"

    @staticmethod
    def check(model):
        from dpl.backbones.open_clip_backbone import check_model

        check_model(model)

    @staticmethod
    def text_mask(model, block):
        return model.attn_mask

    @staticmethod
    def run_block(block, x, mask):
        """``mask``: already cut to ``x``'s length by the caller (open_clip's blocks take it as given)."""
        if block.attn.batch_first:
            return block(x.transpose(0, 1), attn_mask=mask).transpose(0, 1)
        return block(x, attn_mask=mask)

    @staticmethod
    def layer_scales(block):
        return block.ls_1, block.ls_2

    @staticmethod
    def layer_norm(ln, x):
        return ln(x)

    @staticmethod
    def input_resolution(visual):
        height, width = visual.image_size
        if height != width:
            raise BackboneError(f"open_clip image tower takes {height}x{width} images; only square inputs are supported")
        return height

    @staticmethod
    def default_tokenizer():
        import open_clip

        return open_clip.tokenize


FAMILIES = (OpenAIFamily, OpenCLIPFamily)


def family_of(model):
    """The family of a CLIP model, after checking that its towers are ones the prompted encoders can run."""
    for family in FAMILIES:
        if family.accepts(model):
            family.check(model)
            return family
    raise BackboneError(f"prompted CLIP runs over OpenAI's clip.model.CLIP or open_clip's CLIP; got "
                        f"{type(model).__module__}.{type(model).__name__}")


def project_text(projection, x):
    """The text projection: a matrix (OpenAI, open_clip) or an ``nn.Linear`` (open_clip with ``proj_bias``)."""
    return x @ projection if torch.is_tensor(projection) else projection(x)

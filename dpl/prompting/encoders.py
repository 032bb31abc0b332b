"""PromptedCLIP: the stock CLIP towers (OpenAI's ``clip.model.CLIP`` or open_clip's native ``CLIP``) run layer by
layer over the stock submodules, with an optional prompt entry per layer (``None`` | ``KVPrompt`` |
``ReplacePrompt`` | ``KVMixture``). With no prompts the outputs are the stock ``encode_image`` / ``encode_text``
ones (layers without a KV entry run the stock block itself). What differs between the two implementations is in
``families.py``.

The text tower runs only positions up to the batch's last end-of-text token (after prompt insertion): under CLIP's
causal mask no position attends to a later one, so the rest is never read and only the order of float sums can
change. ``full_text_context=True`` (``MODEL.FULL_TEXT_CONTEXT``) runs the whole context as the stock model does."""
import torch
import torch.nn as nn

from dpl.errors import LayoutError

from .attention import KVMixture, KVPrompt, ReplacePrompt, prompted_attention
from .fused import cast
from .families import family_of, project_text


def _entries(prompts, layers, tower):
    if prompts is None:
        return [None] * layers
    prompts = list(prompts)
    if len(prompts) != layers:
        raise LayoutError(f"{tower} prompts have {len(prompts)} per-layer entries but the {tower} tower has "
                          f"{layers} layers")
    for i, p in enumerate(prompts):
        if p is not None and not isinstance(p, (KVPrompt, ReplacePrompt, KVMixture)):
            raise TypeError(f"{tower} layer {i}: prompt entry of type {type(p).__name__}; expected None, "
                            "KVPrompt, ReplacePrompt or KVMixture")
    return prompts


def _seq_first(tokens, batch, dtype, via=None):
    """Prompt tokens (k, W) or (B, k, W) as a (k, B, W) block for a seq-first sequence, cast to ``dtype`` (through
    ``via`` first when given) after the expansion over the batch, as the official ``expand(...).half()``: the backward
    of the expansion then sums the batch's gradients in the prompts' own precision (fp32), not in fp16."""
    if tokens.dim() == 2:
        tokens = tokens.unsqueeze(1).expand(-1, batch, -1)
    elif tokens.shape[0] != batch:
        raise ValueError(f"per-sample prompts have batch {tokens.shape[0]} but the input has batch {batch}")
    else:
        tokens = tokens.transpose(0, 1)
    if via is not None:
        tokens = tokens.to(via)
    return tokens.to(dtype)


def _last_position(eot):
    """``int(eot.max())``, remembered on the tensor until it changes in place (its version): the EOT positions of
    a class list are a buffer read every step, and on a GPU each read would be a host-device sync."""
    try:
        key = (eot._version, eot.data_ptr(), eot.device)
    except RuntimeError:  # inference tensors keep no version counter
        return int(eot.max())
    cached = getattr(eot, "_dpl_last_position", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    value = int(eot.max())
    eot._dpl_last_position = (key, value)
    return value


def _run_block(family, block, x, entry, mask):
    """One stock residual block on seq-first ``x``; a KV entry changes only its attention's keys and values.
    ``mask``: None, or the text's causal mask already cut to ``x``'s length (``encode_text`` cuts it)."""
    if entry is None or isinstance(entry, ReplacePrompt) or (isinstance(entry, KVPrompt) and len(entry) == 0):
        return family.run_block(block, x, mask)
    scale_attn, scale_mlp = family.layer_scales(block)

    def ln_1(t):
        return family.layer_norm(block.ln_1, t)
    x = x + scale_attn(prompted_attention(block.attn, ln_1, ln_1(x), entry, mask))
    return x + scale_mlp(block.mlp(family.layer_norm(block.ln_2, x)))


class PromptedCLIP(nn.Module):
    """Wraps a stock ViT CLIP (kept as the submodule ``model``, weights shared, not copied). ``tokenizer``:
    ``f(texts, context_length) -> (N, context_length) tokens`` of that backbone (default: its family's)."""

    def __init__(self, clip_model, tokenizer=None, full_text_context=False):
        super().__init__()
        self.family = family_of(clip_model)
        self.model = clip_model
        self.tokenizer = tokenizer or self.family.default_tokenizer()
        self.full_text_context = bool(full_text_context)  # False: text positions up to the last EOT only
        # A dtype the vision tower's prompts pass through before the tower's own (the official VPT rounds its fp32
        # prompts with .half() even in fp32); None: cast straight to the tower's dtype.
        self.vision_prompt_rounding = None

    # ---- what the stock model says about itself -------------------------------------------------------
    @property
    def visual(self):
        return self.model.visual

    @property
    def token_embedding(self):
        return self.model.token_embedding

    @property
    def positional_embedding(self):
        return self.model.positional_embedding

    @property
    def text_projection(self):
        return self.model.text_projection

    @property
    def ln_final(self):
        return self.model.ln_final

    @property
    def logit_scale(self):
        return self.model.logit_scale

    @property
    def dtype(self):
        return self.model.visual.conv1.weight.dtype

    @property
    def context_length(self):
        return self.model.context_length

    @property
    def vision_layers(self):
        return len(self.model.visual.transformer.resblocks)

    @property
    def text_layers(self):
        return len(self.model.transformer.resblocks)

    @property
    def vision_width(self):
        return self.model.visual.conv1.out_channels

    @property
    def text_width(self):
        return self.model.ln_final.weight.shape[0]

    @property
    def vision_heads(self):
        return self.model.visual.transformer.resblocks[0].attn.num_heads

    @property
    def text_heads(self):
        return self.model.transformer.resblocks[0].attn.num_heads

    @property
    def embed_dim(self):
        projection = self.model.text_projection
        return projection.shape[1] if torch.is_tensor(projection) else projection.out_features

    @property
    def input_resolution(self):
        return self.family.input_resolution(self.model.visual)

    # ---- image tower --------------------------------------------------------------------------------
    def encode_image(self, images, prompts=None):
        v = self.model.visual
        entries = _entries(prompts, self.vision_layers, "vision")
        dtype = self.dtype
        x = v.conv1(cast(images, dtype))
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # (B, grid**2, W)
        batch, width = x.shape[0], x.shape[-1]
        cls = cast(v.class_embedding, x.dtype) + torch.zeros(batch, 1, width, dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + cast(v.positional_embedding, x.dtype)
        block_size = 0  # travelling prompt block at the end of the sequence
        if isinstance(entries[0], ReplacePrompt):
            tokens = _seq_first(entries[0].tokens, batch, x.dtype, self.vision_prompt_rounding)
            x = torch.cat([x, tokens.transpose(0, 1)], dim=1)
            block_size = len(entries[0])
        x = self.family.layer_norm(v.ln_pre, x).permute(1, 0, 2)  # NLD -> LND
        for layer, (block, entry) in enumerate(zip(v.transformer.resblocks, entries)):
            if layer > 0 and isinstance(entry, ReplacePrompt):
                tokens = _seq_first(entry.tokens, batch, x.dtype, self.vision_prompt_rounding)
                x = torch.cat([x[:x.shape[0] - block_size], tokens], dim=0)
                block_size = len(entry)
            x = _run_block(self.family, block, x, entry, None)
        x = self.family.layer_norm(v.ln_post, x[0])
        return x @ v.proj if v.proj is not None else x

    # ---- text tower -------------------------------------------------------------------------------------
    def _replace_text(self, x, block_size, tokens, layer, last):
        """Seq-first ``x``: the block after the start token becomes ``tokens``, which moves every EOT (and ``last``,
        the largest EOT position) by the change in block size; cut back to the context length."""
        new = _seq_first(tokens, x.shape[1], x.dtype)
        x = torch.cat([x[:1], new, x[1 + block_size:]], dim=0)
        shift = new.shape[0] - block_size
        limit = self.context_length
        if last + shift >= limit:
            raise LayoutError(f"text layer {layer}: a prompt block of {new.shape[0]} tokens moves the end-of-text "
                              f"token to position {last + shift}, past the context length {limit}; use fewer "
                              "prompt tokens or shorter class prompts")
        return x[:limit], new.shape[0], shift

    def encode_text(self, embeddings, eot_index, prompts=None, n_input_prompts=0):
        m = self.model
        entries = _entries(prompts, self.text_layers, "text")
        dtype = self.dtype
        x = cast(embeddings, dtype).permute(1, 0, 2)  # (L, C, W)
        eot = eot_index.to(x.device).long()
        last, shift = _last_position(eot_index), 0  # ``shift``: how far prompts have moved every EOT
        block_size = int(n_input_prompts)
        if isinstance(entries[0], ReplacePrompt):
            x, block_size, moved = self._replace_text(x, block_size, entries[0].tokens, 0, last + shift)
            shift += moved
        if not self.full_text_context:  # causal mask: positions after the last EOT are never read
            x = x[:last + shift + 1]
        x = x + cast(m.positional_embedding[:x.shape[0]], dtype).unsqueeze(1)
        cut = {}  # the causal mask cut to the sequence once per (mask, length), not twice per layer
        for layer, (block, entry) in enumerate(zip(m.transformer.resblocks, entries)):
            if layer > 0 and isinstance(entry, ReplacePrompt):
                x, block_size, moved = self._replace_text(x, block_size, entry.tokens, layer, last + shift)
                shift += moved
            mask = self.family.text_mask(m, block)
            if mask is not None:
                key = (id(mask), x.shape[0])
                if key not in cut:
                    cut[key] = mask[-x.shape[0]:, -x.shape[0]:]
                mask = cut[key]
            x = _run_block(self.family, block, x, entry, mask)
        x = cast(self.family.layer_norm(m.ln_final, x.permute(1, 0, 2)), dtype)
        return project_text(m.text_projection, x[torch.arange(x.shape[0], device=x.device), eot + shift])

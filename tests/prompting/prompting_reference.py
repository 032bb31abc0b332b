"""The small test CLIP and a plain reference for prompted towers, written with one nn.MultiheadAttention call
per candidate (deliberately not via dpl.prompting)."""
import torch
from clip.model import CLIP

SMALL = dict(embed_dim=32, image_resolution=32, vision_layers=2, vision_width=128, vision_patch_size=16,
             context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=4, transformer_layers=2)


def build_small_clip(seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(**SMALL).float().eval()
        # stock init leaves the biases at zero; make them non-zero so bias handling is exercised
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.normal_(p, std=0.05)
    model.requires_grad_(False)
    return model



# ---- plain reference ---------------------------------------------------------------------------------------
def reference_block(block, x, candidates, weights, mask, seq_dim=0):
    """sum_k w_k * MHA(LN(x), LN([x; P_k])) + MLP, with w_0 the no-prompt attention; x is (L, B, W) (``seq_dim`` 0,
    OpenAI's blocks) or (B, L, W) (``seq_dim`` 1, open_clip's), and the block's layer scales when it has them."""
    length, batch = x.shape[seq_dim], x.shape[1 - seq_dim]
    h = block.ln_1(x)
    if mask is not None:
        mask = mask[:length, :length]
    out = weights[0] * block.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
    for i, p in enumerate(candidates):
        prompt = p.unsqueeze(1).expand(-1, batch, -1) if seq_dim == 0 else p.unsqueeze(0).expand(batch, -1, -1)
        kv = block.ln_1(torch.cat([x, prompt], dim=seq_dim))
        m = None if mask is None else torch.cat([mask, torch.zeros(length, p.shape[0])], dim=1)
        out = out + weights[i + 1] * block.attn(h, kv, kv, need_weights=False, attn_mask=m)[0]
    scale_attn, scale_mlp = getattr(block, "ls_1", _same), getattr(block, "ls_2", _same)
    x = x + scale_attn(out)
    return x + scale_mlp(block.mlp(block.ln_2(x)))


def _same(t):
    return t


def reference_image(model, images, layers):
    """``layers``: per layer (candidates, weights) or None."""
    v = model.visual
    x = v.conv1(images).flatten(2).permute(0, 2, 1)
    x = torch.cat([v.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1]), x], dim=1) + v.positional_embedding
    x = v.ln_pre(x).permute(1, 0, 2)
    for block, entry in zip(v.transformer.resblocks, layers):
        cands, w = entry if entry is not None else ([], torch.ones(1))
        x = reference_block(block, x, cands, w, None)
    return v.ln_post(x[0]) @ v.proj


def reference_text(model, embeddings, eot, layers):
    x = (embeddings + model.positional_embedding[:embeddings.shape[1]]).permute(1, 0, 2)
    for block, entry in zip(model.transformer.resblocks, layers):
        cands, w = entry if entry is not None else ([], torch.ones(1))
        x = reference_block(block, x, cands, w, block.attn_mask)
    x = model.ln_final(x.permute(1, 0, 2))
    return x[torch.arange(x.shape[0]), eot] @ model.text_projection


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


# ---- open_clip ---------------------------------------------------------------------------------------------
def build_small_open_clip(seed=0, batch_first=True):
    """A small native open_clip CLIP with layer scales, non-zero biases and gammas; ``batch_first=False`` turns it
    into the sequence-first blocks of older open_clip releases (same weights, same outputs)."""
    import open_clip

    vision = dict(image_size=32, layers=2, width=128, head_width=32, patch_size=16, ls_init_value=0.5)
    text = dict(context_length=77, vocab_size=49408, width=64, heads=4, layers=2, ls_init_value=0.5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.CLIP(embed_dim=32, vision_cfg=vision, text_cfg=text).float().eval()
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.normal_(p, std=0.05)
            elif name.endswith("gamma"):  # layer scales: make each one matter
                torch.nn.init.uniform_(p, 0.3, 1.5)
    model.requires_grad_(False)
    if not batch_first:
        for tower in (model.transformer, model.visual.transformer):
            tower.batch_first = False
            for block in tower.resblocks:
                block.attn.batch_first = False
    return model


def reference_image_open_clip(model, images, layers):
    v = model.visual
    x = v._embeds(images)  # conv1, class token, positional embedding, ln_pre (open_clip's own)
    for block, entry in zip(v.transformer.resblocks, layers):
        cands, w = entry if entry is not None else ([], torch.ones(1))
        x = reference_block(block, x, cands, w, None, seq_dim=1)
    pooled, _ = v._pool(x)
    return pooled @ v.proj


def reference_text_open_clip(model, embeddings, eot, layers):
    x = embeddings + model.positional_embedding[:embeddings.shape[1]]
    for block, entry in zip(model.transformer.resblocks, layers):
        cands, w = entry if entry is not None else ([], torch.ones(1))
        x = reference_block(block, x, cands, w, model.attn_mask, seq_dim=1)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), eot] @ model.text_projection

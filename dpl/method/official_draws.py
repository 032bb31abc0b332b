"""The random draws of the official IVLP / VPT / PromptSRC set-up, in their order. Those codebases draw their deep
prompts inside the CLIP constructor (``clip.build_model`` with a design dict): each prompt right after the block or
embedding it belongs to, between CLIP's own throwaway initialisations, which the loaded weights then replace. Our
prompts are drawn after CLIP is built; ``replay_clip_constructor`` replays that constructor's draws from the RNG state
the trainer saved before loading CLIP and leaves the global RNG where the official set-up leaves it.

Only stock OpenAI ViT CLIPs have an official counterpart; the replay builds each stock block in turn (the same module
types draw the same numbers) and drops it."""
import torch
import torch.nn as nn
from clip.model import ResidualAttentionBlock


def _prompt(length, width):
    p = torch.empty(length, width)  # fp32, as the official ctx_vectors
    nn.init.normal_(p, std=0.02)
    return p


def replay_clip_constructor(model, vision_lengths=(), text_lengths=()):
    """Draw as the official ``CLIP(...)`` constructor of ``model``'s shape draws, with an IVLP design whose per-layer
    prompt lengths are ``vision_lengths`` / ``text_lengths`` (text layer 0 is the prompt learner's context: not drawn
    here). Returns ``{"vision": {layer: tensor}, "text": {layer: tensor}}`` of the prompts drawn."""
    v = model.visual
    width, patch = v.conv1.out_channels, v.conv1.kernel_size[0]
    v_heads = v.transformer.resblocks[0].attn.num_heads
    t_width = model.ln_final.weight.shape[0]
    t_heads = model.transformer.resblocks[0].attn.num_heads
    drawn = {"vision": {}, "text": {}}
    vision_lengths, text_lengths = list(vision_lengths), list(text_lengths)

    # VisionTransformer: conv1, the input prompt, class and positional embeddings, blocks (each block's prompt after
    # its weights), proj
    nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
    if vision_lengths and vision_lengths[0] > 0:
        drawn["vision"][0] = _prompt(vision_lengths[0], width)
    torch.randn(v.class_embedding.shape)
    torch.randn(v.positional_embedding.shape)
    for layer in range(len(v.transformer.resblocks)):
        ResidualAttentionBlock(width, v_heads)
        if 0 < layer < len(vision_lengths) and vision_lengths[layer] > 0:
            drawn["vision"][layer] = _prompt(vision_lengths[layer], width)
    torch.randn(v.proj.shape)
    # text Transformer, then the embeddings (nn.Embedding draws in its own init)
    text_blocks = []
    for layer in range(len(model.transformer.resblocks)):
        text_blocks.append(ResidualAttentionBlock(t_width, t_heads))
        if 0 < layer < len(text_lengths) and text_lengths[layer] > 0:
            drawn["text"][layer] = _prompt(text_lengths[layer], t_width)
    embedding = nn.Embedding(*model.token_embedding.weight.shape)
    # CLIP.initialize_parameters
    nn.init.normal_(embedding.weight, std=0.02)
    nn.init.normal_(torch.empty(model.positional_embedding.shape), std=0.01)
    for block in text_blocks:
        for p in (block.attn.in_proj_weight, block.attn.out_proj.weight, block.mlp.c_fc.weight, block.mlp.c_proj.weight):
            nn.init.normal_(p)  # the std does not change how many numbers are drawn
    nn.init.normal_(torch.empty(model.text_projection.shape))
    return drawn


def has_official_constructor(clip_model):
    """True for a stock OpenAI ViT CLIP (``clip_model`` a PromptedCLIP)."""
    return clip_model.family.name == "openai" and hasattr(clip_model.model.visual, "conv1") and \
        hasattr(clip_model.model.visual, "transformer")

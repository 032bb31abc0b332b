"""The operator savings of the prompted layers keep their answers: the cached key/value rows of a block's input
projection follow a weight that is replaced or unfrozen, and CLIP's LayerNorm called directly on float32 input equals
the stock module."""
import copy

import torch
from prompting_reference import build_small_clip

from dpl.prompting import PromptedCLIP, PromptLayout, LayerPrompts
from dpl.prompting.families import OpenAIFamily


def _prompts(pc):
    torch.manual_seed(3)
    layout = PromptLayout.uniform(2, pc.vision_layers, pc.text_layers)
    return LayerPrompts(layout, pc.vision_width, pc.text_width, kind="kv")


def _image(pc, prompts, images):
    return pc.encode_image(images, prompts.vision_prompts())


def test_replaced_projection_weights_are_used_not_the_cached_views(images):
    pc = PromptedCLIP(build_small_clip())
    prompts = _prompts(pc)
    _image(pc, prompts, images)  # fills the cache of every block
    for block in pc.visual.transformer.resblocks:
        attn = block.attn
        attn.in_proj_weight = torch.nn.Parameter(attn.in_proj_weight.detach() * 1.5, requires_grad=False)
    fresh = PromptedCLIP(copy.deepcopy(pc.model))
    for block in fresh.visual.transformer.resblocks:
        block.attn.__dict__.pop("_dpl_kv_projection", None)
    assert torch.equal(_image(pc, prompts, images), _image(fresh, prompts, images))


def test_weights_changed_in_place_or_unfrozen_get_their_gradients(images):
    model = build_small_clip()
    pc, fresh = PromptedCLIP(model), PromptedCLIP(copy.deepcopy(model))  # fresh: never run before
    prompts = _prompts(pc)
    before = _image(pc, prompts, images)
    for p in (pc, fresh):
        with torch.no_grad():
            p.visual.transformer.resblocks[0].attn.in_proj_weight.mul_(1.5)
    assert not torch.equal(_image(pc, prompts, images), before)
    grads = []
    for p in (pc, fresh):
        weight = p.visual.transformer.resblocks[0].attn.in_proj_weight
        weight.requires_grad_(True)
        _image(p, prompts, images).sum().backward()
        grads.append(weight.grad)
    assert torch.equal(grads[0], grads[1])  # the prompt keys/values reach the unfrozen weight too


def test_direct_layer_norm_equals_clips_module():
    ln = build_small_clip().visual.ln_pre
    x = torch.randn(4, 5, ln.normalized_shape[0])
    assert torch.equal(OpenAIFamily.layer_norm(ln, x), ln(x))
    half = x.half()
    assert torch.equal(OpenAIFamily.layer_norm(ln, half), ln(half))  # fp16 input: the module itself

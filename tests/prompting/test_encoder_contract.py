"""The prompted towers against plain re-statements over the stock modules, and their errors (a mutation run of
dpl/prompting/encoders.py and families.py left these unchecked): travelling prompt blocks of changing sizes in both
towers, the EOT moved to the last position the context holds and one past it, the VPT rounding switch, one-token KV
prompts, towers without an image projection, inference tensors, and the families' messages."""
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from dpl.errors import BackboneError, LayoutError
from dpl.prompting import KVPrompt, PromptedCLIP, ReplacePrompt
from dpl.prompting.families import OpenAIFamily, family_of, project_text

from prompting_reference import reference_image, reference_text, rel_err


# ---- plain re-statements of a travelling prompt block (VPT / IVLP / MaPLe) over the stock modules ------------
def replaced_image(model, images, blocks):
    """The stock ViT forward with ``blocks[i]`` (k, W) or None: layer 0's block is appended before ln_pre, a deeper
    layer's replaces the last block at the end of the sequence."""
    v = model.visual
    x = v.conv1(images).flatten(2).permute(0, 2, 1)
    batch = x.shape[0]
    x = torch.cat([v.class_embedding.expand(batch, 1, -1), x], dim=1) + v.positional_embedding
    size = 0
    if blocks[0] is not None:
        x, size = torch.cat([x, blocks[0].expand(batch, -1, -1)], dim=1), len(blocks[0])
    x = v.ln_pre(x).permute(1, 0, 2)
    for layer, block in enumerate(v.transformer.resblocks):
        if layer > 0 and blocks[layer] is not None:
            kept = x[:x.shape[0] - size]
            x, size = torch.cat([kept, blocks[layer].unsqueeze(1).expand(-1, batch, -1)]), len(blocks[layer])
        x = block(x)
    return v.ln_post(x[0]) @ v.proj


def replaced_text(model, emb, eot, blocks):
    """The stock text forward over the whole context: each block replaces the one after the start token, the
    sequence is cut back to the context length, and the features are read at the moved EOT."""
    x, size, shift = emb.permute(1, 0, 2), 0, 0
    batch, context = x.shape[1], model.context_length
    for layer, block in enumerate(model.transformer.resblocks):
        if blocks[layer] is not None:
            new = blocks[layer].unsqueeze(1).expand(-1, batch, -1)
            x = torch.cat([x[:1], new, x[1 + size:]])[:context]
            shift, size = shift + len(new) - size, len(new)
        if layer == 0:
            x = x + model.positional_embedding[:x.shape[0]].unsqueeze(1)
        x = block(x)
    x = model.ln_final(x.permute(1, 0, 2))
    return x[torch.arange(batch), eot + shift] @ model.text_projection


def test_vision_blocks_of_changing_sizes_travel_at_the_end(stock, prompted, images):
    w = prompted.vision_width
    for sizes in ((2, 4), (3, None), (None, 2), (4, 1)):
        blocks = [None if k is None else torch.randn(k, w) for k in sizes]
        with torch.no_grad():
            got = prompted.encode_image(images, [None if b is None else ReplacePrompt(b) for b in blocks])
            assert rel_err(got, replaced_image(stock, images, blocks)) < 1e-5, sizes


def test_three_deep_vision_blocks_on_a_deeper_tower(tiny_clip):
    torch.manual_seed(0)
    images = torch.randn(2, 3, tiny_clip.input_resolution, tiny_clip.input_resolution)
    blocks = [torch.randn(k, tiny_clip.vision_width) for k in (2, 3, 1, 4)]
    with torch.no_grad():
        got = tiny_clip.encode_image(images, [ReplacePrompt(b) for b in blocks])
        assert rel_err(got, replaced_image(tiny_clip.model, images, blocks)) < 1e-5


def test_text_blocks_of_changing_sizes_move_the_eot(stock, prompted, text_input):
    _, emb, eot = text_input
    w = prompted.text_width
    for sizes in ((2, 5), (5, 1), (None, 3), (3, None)):
        blocks = [None if k is None else torch.randn(k, w) for k in sizes]
        with torch.no_grad():
            got = prompted.encode_text(emb, eot, [None if b is None else ReplacePrompt(b) for b in blocks])
            assert rel_err(got, replaced_text(stock, emb, eot, blocks)) < 1e-5, sizes


@pytest.mark.parametrize("first, second, layer", [(4, None, 0), (1, 4, 1), (4, 5, 1)])
def test_an_eot_moved_to_the_last_position_is_kept_and_one_further_refused(stock, prompted, text_input, first,
                                                                         second, layer):
    """Blocks of ``first`` then ``second`` tokens; the EOT starts where their growth puts it exactly at the last
    position (kept), then one position later (refused, naming the layer that moved it)."""
    _, emb, _ = text_input
    w, context = prompted.text_width, prompted.context_length
    blocks = [torch.randn(first, w), None if second is None else torch.randn(second, w)]
    entries = [None if b is None else ReplacePrompt(b) for b in blocks]
    growth = first if second is None else max(first, second)
    at_end = torch.full((emb.shape[0],), context - 1 - growth)
    with torch.no_grad():
        assert rel_err(prompted.encode_text(emb, at_end, entries), replaced_text(stock, emb, at_end, blocks)) < 1e-5
    block = blocks[layer].shape[0]
    with pytest.raises(LayoutError) as e:
        prompted.encode_text(emb, at_end + 1, entries)
    assert str(e.value) == (f"text layer {layer}: a prompt block of {block} tokens moves the end-of-text token to "
                            f"position {context}, past the context length {context}; use fewer prompt tokens or "
                            "shorter class prompts")


def test_the_vision_rounding_switch_rounds_every_block_first(stock, images):
    """VPT's prompts pass through fp16 (the official ``.half()``) before the tower's own dtype."""
    prompted = PromptedCLIP(stock)
    assert prompted.vision_prompt_rounding is None
    blocks = [torch.randn(2, prompted.vision_width), torch.randn(3, prompted.vision_width)]
    entries = [ReplacePrompt(b) for b in blocks]
    rounded = [b.half().float() for b in blocks]
    with torch.no_grad():
        plain = prompted.encode_image(images, entries)
        prompted.vision_prompt_rounding = torch.float16
        got = prompted.encode_image(images, entries)
    assert rel_err(got, replaced_image(stock, images, rounded)) < 1e-5
    assert rel_err(plain, replaced_image(stock, images, blocks)) < 1e-5 and not torch.equal(got, plain)


def test_a_one_token_kv_prompt_is_a_prompt(stock, prompted, images, text_input):
    _, emb, eot = text_input
    pv, pt = torch.randn(1, prompted.vision_width), torch.randn(1, prompted.text_width)
    with torch.no_grad():
        got = prompted.encode_image(images, [KVPrompt(pv), None])
        assert rel_err(got, reference_image(stock, images, [([pv], torch.tensor([0.0, 1.0])), None])) < 1e-5
        got = prompted.encode_text(emb, eot, [None, KVPrompt(pt)])
        assert rel_err(got, reference_text(stock, emb, eot, [None, ([pt], torch.tensor([0.0, 1.0]))])) < 1e-5


def test_a_tower_without_an_image_projection_gives_its_width(stock, images):
    model = copy.deepcopy(stock)
    model.visual.proj = None
    with torch.no_grad():
        got = PromptedCLIP(model).encode_image(images)
        assert got.shape[-1] == model.visual.conv1.out_channels
        assert rel_err(got, model.encode_image(images)) < 1e-6


def test_inference_tensors_run_and_give_the_same_features(prompted, images, text_input):
    _, emb, eot = text_input
    entries = [KVPrompt(torch.randn(2, prompted.text_width)), None]
    with torch.no_grad():
        want = prompted.encode_text(emb, eot, entries)
    with torch.inference_mode():
        got = prompted.encode_text(emb.clone(), eot.clone(), entries)
    assert torch.equal(got, want)


def test_the_last_eot_is_remembered_on_the_tensor(prompted, text_input):
    from dpl.prompting.encoders import _last_position

    _, _, eot = text_input
    positions = eot.clone()
    assert _last_position(positions) == int(eot.max())
    # read once: a remembered value for the same tensor version is used as it is
    key, value = positions._dpl_last_position
    positions._dpl_last_position = (key, value + 7)
    assert _last_position(positions) == value + 7
    positions[0] = 0  # changed in place: read again
    assert _last_position(positions) == int(positions.max())


def test_entry_errors_name_the_tower_and_the_layer(prompted, images, text_input):
    _, emb, eot = text_input
    with pytest.raises(LayoutError) as e:
        prompted.encode_text(emb, eot, [None])
    assert str(e.value) == "text prompts have 1 per-layer entries but the text tower has 2 layers"
    with pytest.raises(TypeError) as e:
        prompted.encode_image(images, [None, torch.zeros(2, prompted.vision_width)])
    assert str(e.value) == ("vision layer 1: prompt entry of type Tensor; expected None, KVPrompt, ReplacePrompt or "
                            "KVMixture")
    with pytest.raises(ValueError) as e:
        prompted.encode_text(emb, eot, [ReplacePrompt(torch.zeros(emb.shape[0] + 1, 2, prompted.text_width)), None])
    assert str(e.value) == f"per-sample prompts have batch {emb.shape[0] + 1} but the input has batch {emb.shape[0]}"


# ---- families ------------------------------------------------------------------------------------------------
def test_family_errors_name_what_they_got():
    with pytest.raises(BackboneError) as e:
        family_of(nn.Linear(2, 2))
    assert str(e.value) == ("prompted CLIP runs over OpenAI's clip.model.CLIP or open_clip's CLIP; got "
                            "torch.nn.modules.linear.Linear")
    with pytest.raises(BackboneError) as e:
        OpenAIFamily.check(SimpleNamespace(visual=nn.Identity()))
    assert str(e.value) == ("prompted CLIP needs a ViT image tower (clip.model.VisionTransformer); this model's is "
                            "Identity: use a ViT backbone such as ViT-B/16")


def test_text_projection_as_a_matrix_or_a_linear_layer():
    x = torch.randn(3, 4)
    matrix, linear = torch.randn(4, 2), nn.Linear(4, 2)
    assert torch.equal(project_text(matrix, x), x @ matrix)
    assert torch.equal(project_text(linear, x), linear(x))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_openai_layer_norm_is_clips_in_every_dtype(dtype):
    from clip.model import LayerNorm

    torch.manual_seed(0)
    ln = LayerNorm(8)  # fp32 weights, as clip keeps them in an fp16 model
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    x = torch.randn(3, 8).to(dtype)
    got = OpenAIFamily.layer_norm(ln, x)
    assert got.dtype == dtype and torch.equal(got, ln(x))


def test_text_embeddings_of_another_dtype_are_cast_to_the_towers(stock, text_input):
    import clip.model

    _, emb, eot = text_input
    model = copy.deepcopy(stock)
    clip.model.convert_weights(model)  # OpenAI's fp16 model: fp16 weights, fp32 LayerNorms
    prompted = PromptedCLIP(model)
    with torch.no_grad():
        got = prompted.encode_text(emb.float(), eot)
        assert got.dtype == torch.float16 and torch.equal(got, prompted.encode_text(emb.half(), eot))


def test_every_tensor_the_towers_make_is_on_the_models_device(stock, text_input):
    """The meta device stands for a GPU: the class token's zeros, the EOT positions (given on the CPU, as a class
    list's buffer may be) and the row indices all follow the model."""
    prompted = PromptedCLIP(copy.deepcopy(stock).to("meta"))
    _, emb, eot = text_input
    image = prompted.encode_image(torch.empty(2, 3, prompted.input_resolution, prompted.input_resolution,
                                              device="meta"))
    text = prompted.encode_text(emb.to("meta"), eot)
    assert image.device.type == text.device.type == "meta"
    assert image.shape == (2, prompted.embed_dim) and text.shape == (emb.shape[0], prompted.embed_dim)

import pytest
import torch
from clip.model import CLIP

from dpl.errors import BackboneError, LayoutError
from dpl.prompting import KVPrompt, PromptedCLIP, ReplacePrompt

from prompting_reference import SMALL, reference_image, reference_text, rel_err


def test_properties_read_from_model(prompted):
    assert (prompted.vision_layers, prompted.text_layers) == (SMALL["vision_layers"], SMALL["transformer_layers"])
    assert (prompted.vision_width, prompted.text_width) == (SMALL["vision_width"], SMALL["transformer_width"])
    assert prompted.embed_dim == SMALL["embed_dim"] and prompted.context_length == SMALL["context_length"]
    assert prompted.text_heads == SMALL["transformer_heads"] and prompted.dtype == torch.float32
    assert prompted.token_embedding is prompted.model.token_embedding
    assert prompted.logit_scale is prompted.model.logit_scale


def test_no_prompts_equal_stock(stock, prompted, images, text_input):
    tokens, emb, eot = text_input
    with torch.no_grad():
        ref_img, ref_txt = stock.encode_image(images), stock.encode_text(tokens)
        for prompts in (None, [None] * prompted.vision_layers):
            assert rel_err(prompted.encode_image(images, prompts), ref_img) < 1e-5
        for prompts in (None, [None] * prompted.text_layers):
            assert rel_err(prompted.encode_text(emb, eot, prompts), ref_txt) < 1e-5


def test_empty_kv_prompt_equals_none(prompted, images, text_input):
    _, emb, eot = text_input
    with torch.no_grad():
        v = [KVPrompt(torch.zeros(0, prompted.vision_width))] * prompted.vision_layers
        t = [KVPrompt(torch.zeros(0, prompted.text_width))] * prompted.text_layers
        assert rel_err(prompted.encode_image(images, v), prompted.encode_image(images)) < 1e-6
        assert rel_err(prompted.encode_text(emb, eot, t), prompted.encode_text(emb, eot)) < 1e-6


def test_kv_prompts_match_plain_mha(stock, prompted, images, text_input):
    _, emb, eot = text_input
    torch.manual_seed(0)
    pv = [torch.randn(3, prompted.vision_width), None]
    pt = [torch.randn(2, prompted.text_width), torch.randn(4, prompted.text_width)]
    with torch.no_grad():
        got = prompted.encode_image(images, [KVPrompt(p) if p is not None else None for p in pv])
        want = reference_image(stock, images, [([p], torch.tensor([0.0, 1.0])) if p is not None else None for p in pv])
        assert rel_err(got, want) < 1e-5
        assert rel_err(got, prompted.encode_image(images)) > 1e-3  # the prompts do something
        got = prompted.encode_text(emb, eot, [KVPrompt(p) for p in pt])
        want = reference_text(stock, emb, eot, [([p], torch.tensor([0.0, 1.0])) for p in pt])
        assert rel_err(got, want) < 1e-5


def test_per_sample_prompts_equal_shared(prompted, images):
    p = torch.randn(2, prompted.vision_width)
    with torch.no_grad():
        shared = prompted.encode_image(images, [KVPrompt(p), ReplacePrompt(p)])
        per = p.expand(images.shape[0], -1, -1)
        assert rel_err(prompted.encode_image(images, [KVPrompt(per), ReplacePrompt(per)]), shared) < 1e-6
        # different prompts per sample change only that sample
        other = per.clone()
        other[1] += torch.randn_like(other[1])  # (a constant shift would vanish in the LayerNorm)
        out = prompted.encode_image(images, [KVPrompt(other), None])
        ref = prompted.encode_image(images, [KVPrompt(per), None])
        assert torch.allclose(out[0], ref[0], atol=1e-6) and not torch.allclose(out[1], ref[1], atol=1e-4)


def test_text_mask_causal_and_prompts_visible(prompted, text_input):
    _, emb, _ = text_input
    position = torch.full((emb.shape[0],), 3)
    later = emb.clone()
    later[:, 6] += torch.randn_like(later[:, 6])
    p = torch.randn(2, prompted.text_width)
    prompts = [KVPrompt(p)] * prompted.text_layers
    with torch.no_grad():
        a = prompted.encode_text(emb, position, prompts)
        assert torch.allclose(a, prompted.encode_text(later, position, prompts), atol=1e-6)  # later token unseen
        earlier = emb.clone()
        earlier[:, 2] += torch.randn_like(earlier[:, 2])
        assert not torch.allclose(a, prompted.encode_text(earlier, position, prompts), atol=1e-4)
        # prompts are visible to every position, the start token included
        first = torch.zeros(emb.shape[0], dtype=torch.long)
        b = prompted.encode_text(emb, first, prompts)
        assert not torch.allclose(b, prompted.encode_text(emb, first, [KVPrompt(p + torch.randn_like(p))] * prompted.text_layers),
                                  atol=1e-4)


def test_replace_prompt_text_insertion_and_eot_shift(prompted, text_input):
    _, emb, eot = text_input
    p = torch.randn(3, prompted.text_width)
    with torch.no_grad():
        got = prompted.encode_text(emb, eot, [ReplacePrompt(p), None])
        inserted = torch.cat([emb[:, :1], p.expand(emb.shape[0], -1, -1), emb[:, 1:]], dim=1)[:, :emb.shape[1]]
        assert rel_err(got, prompted.encode_text(inserted, eot + 3)) < 1e-6
        # a deeper layer replaces the block (here with a longer one); the EOT follows
        q = torch.randn(5, prompted.text_width)
        deep = prompted.encode_text(emb, eot, [ReplacePrompt(p), ReplacePrompt(q)])
        assert deep.shape == (emb.shape[0], prompted.embed_dim) and torch.isfinite(deep).all()
        assert not torch.allclose(deep, got, atol=1e-4)
        # n_input_prompts: a block already in the embeddings is replaced, not prepended to
        again = prompted.encode_text(inserted, eot + 3, [ReplacePrompt(p), None], n_input_prompts=3)
        assert rel_err(again, got) < 1e-6


def test_replace_prompt_cutting_eot_raises(prompted, text_input):
    _, emb, _ = text_input
    eot = torch.full((emb.shape[0],), prompted.context_length - 2)
    with pytest.raises(LayoutError, match="context length"):
        prompted.encode_text(emb, eot, [ReplacePrompt(torch.randn(4, prompted.text_width)), None])


def test_replace_prompt_vision_shapes(prompted, images):
    p, q = torch.randn(2, prompted.vision_width), torch.randn(4, prompted.vision_width)
    with torch.no_grad():
        out = prompted.encode_image(images, [ReplacePrompt(p), ReplacePrompt(q)])
        assert out.shape == (images.shape[0], prompted.embed_dim)
        kept = prompted.encode_image(images, [ReplacePrompt(p), None])
        assert not torch.allclose(out, kept, atol=1e-4)


def test_wrong_entry_count_raises(prompted, images):
    with pytest.raises(LayoutError, match="vision prompts have 1 per-layer entries"):
        prompted.encode_image(images, [None])


def test_resnet_backbone_rejected():
    rn = CLIP(embed_dim=32, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=8, vision_patch_size=None,
              context_length=8, vocab_size=100, transformer_width=32, transformer_heads=1, transformer_layers=1)
    with pytest.raises(BackboneError, match="ViT"):
        PromptedCLIP(rn)


def test_autocast_bf16_cpu(prompted, images, text_input):
    _, emb, eot = text_input
    pv = [KVPrompt(torch.randn(2, prompted.vision_width))] * prompted.vision_layers
    pt = [KVPrompt(torch.randn(2, prompted.text_width))] * 2
    with torch.no_grad():
        ref, txt_ref = prompted.encode_image(images, pv), prompted.encode_text(emb, eot, pt)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = prompted.encode_image(images, pv).float()
            txt = prompted.encode_text(emb, eot, pt).float()
    # measured 7.0e-3 for the image tower (bf16 keeps 8 bits of mantissa: 3.9e-3 per rounding); ~3x that as the bound
    assert rel_err(got, ref) < 2e-2 and rel_err(txt, txt_ref) < 2e-2

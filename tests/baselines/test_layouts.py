"""Per-layer prompt counts of every deep-prompt baseline: the hand design (scaled to the tiny model's depth),
and a non-uniform TRAINER.LAYOUT with zero-length layers; plus a forward/backward through the prompted towers."""
import json

import pytest
import torch

from baseline_helpers import BASE, build_learner, make_cfg, text_counts, vision_counts


def first(n, depth, layers):
    return [n] * depth + [0] * (layers - depth)


def check_trains(learner, images):
    """Logits have one column per class and every learned parameter gets a gradient."""
    logits = learner(images)
    assert logits.shape == (len(images), len(BASE))
    assert torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    for name, p in learner.prompt_learner.named_parameters():
        if p.numel():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_ivlp_hand_design(tiny_clip, images):
    cfg = make_cfg("IVLP", N_CTX_VISION=2, N_CTX_TEXT=2, PROMPT_DEPTH_VISION=3, PROMPT_DEPTH_TEXT=2)
    learner = build_learner("IVLP", cfg, tiny_clip)
    assert vision_counts(learner) == first(2, 3, tiny_clip.vision_layers)
    assert text_counts(learner) == first(2, 2, tiny_clip.text_layers)
    assert learner.prompt_learner.text_prompts()[0] is None  # layer 0 is the input context, not a ReplacePrompt
    check_trains(learner, images)


def test_ivlp_depth_beyond_model_prompts_every_layer(tiny_clip):
    cfg = make_cfg("IVLP", PROMPT_DEPTH_VISION=9, PROMPT_DEPTH_TEXT=9)
    learner = build_learner("IVLP", cfg, tiny_clip)
    assert vision_counts(learner) == [2] * tiny_clip.vision_layers
    assert text_counts(learner) == [2] * tiny_clip.text_layers


def test_language_only_leaves_vision_unprompted(tiny_clip, images):
    cfg = make_cfg("IVLP", N_CTX_VISION=0, N_CTX_TEXT=4, PROMPT_DEPTH_VISION=0, PROMPT_DEPTH_TEXT=3)
    learner = build_learner("IVLP", cfg, tiny_clip)
    assert vision_counts(learner) == [0] * tiny_clip.vision_layers
    assert text_counts(learner) == first(4, 3, tiny_clip.text_layers)
    check_trains(learner, images)


def test_context_init_words_start_the_context(tiny_clip):
    from dpl.method.text import context_init_embedding

    learner = build_learner("IVLP", make_cfg("IVLP", PROMPT_DEPTH_TEXT=2), tiny_clip)
    init = context_init_embedding(tiny_clip, "a photo of a")
    assert torch.equal(learner.prompt_learner.context.ctx.detach(), init[:2].to(learner.prompt_learner.context.ctx.dtype))


@pytest.mark.parametrize("trainer,node", [("IVLP", "IVLP"), ("PromptSRC", "PROMPTSRC")])
def test_ivlp_family_follows_layout(trainer, node, tiny_clip, layout_file, images):
    path, vision, text = layout_file
    learner = build_learner(trainer, make_cfg(node, layout=path), tiny_clip)
    assert vision_counts(learner) == vision
    assert text_counts(learner) == text
    check_trains(learner, images)


def test_promptsrc_hand_design(tiny_clip):
    cfg = make_cfg("PROMPTSRC", PROMPT_DEPTH_VISION=3, PROMPT_DEPTH_TEXT=2)
    learner = build_learner("PromptSRC", cfg, tiny_clip)
    assert vision_counts(learner) == first(4, 3, tiny_clip.vision_layers)
    assert text_counts(learner) == first(4, 2, tiny_clip.text_layers)


def test_vpt_hand_design_and_layout(tiny_clip, layout_file, images):
    learner = build_learner("VPT", make_cfg("VPT", N_CTX_VISION=3, PROMPT_DEPTH_VISION=2), tiny_clip)
    assert vision_counts(learner) == first(3, 2, tiny_clip.vision_layers)
    assert all(p is None for p in learner.prompt_learner.text_prompts())
    check_trains(learner, images)
    path, vision, _ = layout_file
    learner = build_learner("VPT", make_cfg("VPT", layout=path), tiny_clip)
    assert vision_counts(learner) == vision
    assert all(p is None for p in learner.prompt_learner.text_prompts())  # text branch ignored


def test_vpt_depth_minus_one_prompts_every_layer_of_the_loaded_model(tiny_clip):
    learner = build_learner("VPT", make_cfg("VPT", N_CTX_VISION=8, PROMPT_DEPTH_VISION=-1), tiny_clip)
    assert vision_counts(learner) == [8] * tiny_clip.vision_layers  # the published VPT-deep config


def test_vpt_defaults_are_the_official_shallow_vpt(tiny_clip):
    learner = build_learner("VPT", make_cfg("VPT"), tiny_clip)
    assert vision_counts(learner) == [2] + [0] * (tiny_clip.vision_layers - 1)


def test_negative_depth_other_than_all_layers_is_an_error(tiny_clip):
    from dpl.errors import ConfigError

    with pytest.raises(ConfigError, match="PROMPT_DEPTH_VISION"):
        build_learner("VPT", make_cfg("VPT", PROMPT_DEPTH_VISION=-2), tiny_clip)


def test_maple_hand_design(tiny_clip, images):
    learner = build_learner("MaPLe", make_cfg("MAPLE", N_CTX=2, PROMPT_DEPTH=2), tiny_clip)
    assert text_counts(learner) == first(2, 2, tiny_clip.text_layers)
    assert vision_counts(learner) == first(2, 2, tiny_clip.vision_layers)
    assert sorted(learner.prompt_learner.projections) == ["0", "1"]
    check_trains(learner, images)


def test_maple_layout_vision_follows_text(tiny_clip, layout_file, images):
    path, _, text = layout_file
    learner = build_learner("MaPLe", make_cfg("MAPLE", layout=path), tiny_clip)
    assert text_counts(learner) == text
    shared = min(tiny_clip.vision_layers, tiny_clip.text_layers)
    expected = [text[l] if l < shared else 0 for l in range(tiny_clip.vision_layers)]
    assert vision_counts(learner) == expected
    # the vision prompt is the projection of the text prompt of the same layer
    pl = learner.prompt_learner
    layer = next(l for l in range(1, shared) if text[l])
    projected = pl.projections[str(layer)](pl.text_prompts()[layer].tokens)
    assert torch.allclose(pl.vision_prompts()[layer].tokens, projected)
    check_trains(learner, images)


def test_cocoop_context_length(tiny_clip, layout_file, images):
    learner = build_learner("CoCoOp", make_cfg("COCOOP", N_CTX=4, CTX_INIT="a photo of a"), tiny_clip)
    with torch.no_grad():  # the tiny model's meta-net has 4 hidden ReLUs: open them so every weight gets a gradient
        learner.prompt_learner.meta_net[0].bias.fill_(1.0)
    assert learner.prompt_learner.context.n_ctx == 4
    assert learner.cache_text_features is False
    check_trains(learner, images)
    path, _, text = layout_file
    learner = build_learner("CoCoOp", make_cfg("COCOOP", layout=path), tiny_clip)
    assert learner.prompt_learner.context.n_ctx == text[0]


def test_cocoop_meta_net_widths_from_model(tiny_clip):
    learner = build_learner("CoCoOp", make_cfg("COCOOP", N_CTX=3), tiny_clip)
    first_layer, _, last_layer = learner.prompt_learner.meta_net
    assert first_layer.in_features == tiny_clip.embed_dim
    assert first_layer.out_features == tiny_clip.embed_dim // 16
    assert last_layer.out_features == tiny_clip.text_width


def test_cocoop_logits_depend_on_the_image(tiny_clip, images):
    """Same image alone or in a batch gives the same logits; a different image shifts the context."""
    learner = build_learner("CoCoOp", make_cfg("COCOOP", N_CTX=3), tiny_clip)
    with torch.no_grad():
        both = learner(images)
        alone = learner(images[:1])
        shifts = learner.prompt_learner.shifted_contexts(learner.image_features(images))
    assert torch.allclose(both[:1], alone, rtol=1e-4, atol=1e-4)  # logits are scaled by ~100
    assert not torch.allclose(shifts[0], shifts[1])


@pytest.mark.parametrize("trainer,node", [("IVLP", "IVLP"), ("MaPLe", "MAPLE")])
def test_no_input_context_when_layer_0_is_empty(trainer, node, tiny_clip, tmp_path, images):
    """Text layer 0 of length 0: no input context; deeper prompts are inserted after the start token."""
    import json

    text = [0, 2] + [1] * (tiny_clip.text_layers - 2)
    vision = [0, 2] + [0] * (tiny_clip.vision_layers - 2)
    path = tmp_path / "layout.json"
    path.write_text(json.dumps({"max_length": 2, "vision": vision, "text": text}))
    learner = build_learner(trainer, make_cfg(node, layout=str(path)), tiny_clip)
    assert text_counts(learner) == text
    assert vision_counts(learner)[:2] == [0, 2]
    check_trains(learner, images)


def _layout_for(tmp_path, backbone, vision, text):
    path = tmp_path / f"layout_{len(vision)}.json"
    path.write_text(json.dumps({"backbone": backbone, "max_length": 6, "vision": vision, "text": text}))
    return str(path)


def test_a_layout_made_for_another_backbone_is_a_warning_or_an_error_naming_both(tiny_clip, tmp_path, capsys):
    from dpl.errors import LayoutError
    from dpl.method.layout_config import layout_from_cfg

    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    same_depth = _layout_for(tmp_path, "ViT-B/32", [1] * lv, [1] * lt)
    layout = layout_from_cfg(make_cfg(layout=same_depth), tiny_clip, max_length=6)
    assert layout.vision == [1] * lv
    out = capsys.readouterr().out
    assert "WARNING" in out and "ViT-B/32" in out and "tiny-random" in out
    other_depth = _layout_for(tmp_path, "ViT-B/16", [1] * 12, [1] * 12)
    with pytest.raises(LayoutError, match=r"ViT-B/16.*tiny-random"):
        layout_from_cfg(make_cfg(layout=other_depth), tiny_clip, max_length=6)

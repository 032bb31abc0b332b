"""MaPLe's layout rules (a mutation run found them untested): its hand design prompts the same layers in both
towers, names MaPLe's keys, says when a given layout's vision branch is ignored, and couples every prompted text
layer, one token long included, to a projection."""
from baseline_helpers import build_learner, make_cfg


def test_hand_design_prompts_both_towers_alike_and_says_nothing_more(tiny_clip, capsys):
    learner = build_learner("MaPLe", make_cfg("MAPLE", N_CTX=2, PROMPT_DEPTH=2), tiny_clip)
    layout = learner.prompt_learner.layout
    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    assert layout.vision == [2, 2] + [0] * (lv - 2) and layout.text == [2, 2] + [0] * (lt - 2)
    assert layout.backbone == "tiny-random"
    out = capsys.readouterr().out
    assert f"Prompt layout ({layout.source}): {layout.summary()}\n" in out
    assert "Note: MaPLe's vision prompts" not in out


def test_too_deep_a_design_names_prompt_depth(tiny_clip, capsys):
    depth = tiny_clip.vision_layers + 1
    build_learner("MaPLe", make_cfg("MAPLE", N_CTX=2, PROMPT_DEPTH=depth), tiny_clip)
    out = capsys.readouterr().out
    for tower, layers in (("vision", tiny_clip.vision_layers), ("text", tiny_clip.text_layers)):
        assert f"Note: TRAINER.MAPLE.PROMPT_DEPTH is {depth} but the model has {layers} layers" in out, tower


def test_a_given_layouts_vision_branch_is_ignored_and_one_token_layers_are_coupled(tiny_clip, capsys):
    learner = build_learner("MaPLe", make_cfg("MAPLE", layout="uniform:1", N_CTX=2, PROMPT_DEPTH=2), tiny_clip)
    assert ("Note: MaPLe's vision prompts are projections of its text prompts at the same layers; the layout's "
            "vision branch is ignored\n") in capsys.readouterr().out
    prompts = learner.prompt_learner
    coupled = list(range(min(tiny_clip.vision_layers, tiny_clip.text_layers)))
    assert prompts.coupled == coupled and sorted(map(int, prompts.projections)) == coupled

"""The baselines' hand designs as layouts and the layout rules around them (dpl/method/deep_prompts.py; a mutation
run found them untested): depth -1 and capped depths, the layout's length bound, backbone and source, the
generated ``random`` / ``zero`` layouts bounded by the method's own token count, and the copies ``without``
makes."""
import pytest
from baseline_helpers import make_cfg

from dpl.method.deep_prompts import hand_layout, ivlp_layout, method_layout, without


def test_hand_layout_prompts_the_first_layers_of_each_tower(tiny_clip, capsys):
    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    layout = hand_layout(tiny_clip, "tiny-random", vision=(2, 1), text=(3, lt), node="TRAINER.X")
    assert layout.vision == [2] + [0] * (lv - 1) and layout.text == [3] * lt
    assert layout.max_length == 3 and layout.backbone == "tiny-random"
    assert layout.source == f"hand design: vision 2 tokens x 1 layers, text 3 tokens x {lt} layers"
    assert capsys.readouterr().out == ""  # depth == layers: no note
    assert hand_layout(tiny_clip, "b", vision=(0, 0), text=(4, 1)).max_length == 4
    assert hand_layout(tiny_clip, "b", vision=(5, 1), text=(2, 1)).max_length == 5
    assert hand_layout(tiny_clip, "b").max_length == 1  # nothing prompted: the bound is still a valid 1


def test_depth_minus_one_is_every_layer_and_a_larger_depth_is_capped_with_a_note(tiny_clip, capsys):
    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    assert hand_layout(tiny_clip, "b", vision=(1, -1)).vision == [1] * lv
    assert capsys.readouterr().out == ""
    layout = hand_layout(tiny_clip, "b", vision=(1, lv + 2), text=(0, lt + 5), node="TRAINER.X")
    assert layout.vision == [1] * lv and layout.text == [0] * lt  # a zero length prompts no layer at any depth
    out = capsys.readouterr().out
    assert out == (f"Note: TRAINER.X.PROMPT_DEPTH_VISION is {lv + 2} but the model has {lv} layers; "
                   f"prompting all {lv}\n")  # the text tower has no tokens: nothing to cap, no note


@pytest.mark.parametrize("spec", ["random:3", "zero"])
def test_generated_layouts_are_bounded_by_the_methods_token_count(tiny_clip, spec, capsys):
    default = hand_layout(tiny_clip, "tiny-random", vision=(2, 1), text=(2, 1))
    layout = method_layout(make_cfg(layout=spec), tiny_clip, default)
    assert layout is not default and layout.max_length == 2
    assert max(layout.vision + layout.text) <= 2
    if spec == "zero":
        assert not any(layout.vision + layout.text)
    assert f"Prompt layout from TRAINER.LAYOUT={spec}" in capsys.readouterr().out


def test_the_hand_design_is_used_and_printed_when_no_layout_is_set(tiny_clip, capsys):
    default = hand_layout(tiny_clip, "tiny-random", vision=(2, 1), text=(2, 1))
    assert method_layout(make_cfg(layout=""), tiny_clip, default) is default
    assert capsys.readouterr().out == f"Prompt layout ({default.source}): {default.summary()}\n"


def test_without_zeroes_a_branch_and_keeps_the_rest(tiny_clip):
    lv, lt = tiny_clip.vision_layers, tiny_clip.text_layers
    layout = hand_layout(tiny_clip, "tiny-random", vision=(2, lv), text=(3, lt))
    vision_only = without(layout, text=True)
    assert vision_only.vision == [2] * lv and vision_only.text == [0] * lt
    assert (vision_only.max_length, vision_only.backbone, vision_only.source) == (2, "tiny-random", layout.source)
    assert without(layout, vision=True).text == layout.text  # the text input stays unless asked
    deep_text = without(layout, text_input=True)
    assert deep_text.text == [0] + [3] * (lt - 1) and deep_text.max_length == 3
    assert without(layout, vision=True, text=True).max_length == 1  # nothing left: the bound is still 1


def test_ivlp_hand_design_reads_its_node_and_names_it(tiny_clip, capsys):
    lt = tiny_clip.text_layers
    cfg = make_cfg("IVLP", N_CTX_VISION=2, PROMPT_DEPTH_VISION=1, N_CTX_TEXT=3, PROMPT_DEPTH_TEXT=lt + 1)
    layout = ivlp_layout(cfg, tiny_clip, "IVLP")
    assert layout.vision[:2] == [2, 0] and layout.text == [3] * lt and layout.backbone == "tiny-random"
    assert (f"Note: TRAINER.IVLP.PROMPT_DEPTH_TEXT is {lt + 1} but the model has {lt} layers; prompting all {lt}\n"
            in capsys.readouterr().out)

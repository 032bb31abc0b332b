"""VPT's own parts (a mutation run found them untested): the frozen text features of the hand-crafted prompt against
stock CLIP reading the written-out sentences, the fp32 it runs in whatever PREC says, and what it says about a
layout with a text branch or a bad hand design."""
import clip
import pytest
import torch
import torch.nn.functional as F
from baseline_helpers import BASE, build_learner, make_cfg

from dpl.errors import ConfigError
from trainers.ivlp import VPT

OPTS = {"N_CTX_VISION": 2, "PROMPT_DEPTH_VISION": 2}


@pytest.mark.parametrize("ctx_init,template", [("a_photo_of_a", "a photo of a {}."), ("", "{}.")],
                         ids=["CTX_INIT", "no CTX_INIT"])
def test_text_features_are_clips_normalised_features_of_the_hand_crafted_prompt(tiny_clip, ctx_init, template,
                                                                                 capsys):
    learner = build_learner("VPT", make_cfg("VPT", CTX_INIT=ctx_init, **OPTS), tiny_clip)
    sentences = [template.format(c.replace("_", " ")) for c in BASE]
    with torch.no_grad():
        expected = F.normalize(tiny_clip.model.encode_text(clip.tokenize(sentences)), dim=-1)
    torch.testing.assert_close(learner.class_text_features(), expected)
    assert f"Text prompt (frozen): {template!r}\n" in capsys.readouterr().out
    assert "text_features" not in learner.state_dict()  # rebuilt from the class names, never saved


@pytest.mark.parametrize("prec", ["fp16", "amp", "fp32"])
def test_vpt_runs_in_fp32_whatever_prec_says(prec, capsys):
    trainer = VPT.__new__(VPT)  # no engine: only the precision rule is exercised
    assert trainer._resolve_precision(prec) == "fp32"
    note = f"Note: TRAINER.VPT.PREC is {prec}, but VPT runs in fp32 as the official code does\n"
    assert capsys.readouterr().out == ("" if prec == "fp32" else note)


def test_a_layout_with_a_text_branch_is_used_for_the_image_tower_only_and_says_so(tiny_clip, capsys):
    learner = build_learner("VPT", make_cfg("VPT", layout="uniform:2", **OPTS), tiny_clip)
    out = capsys.readouterr().out
    assert "Note: VPT prompts the image tower only; the layout's text branch is ignored\n" in out
    assert not any(learner.prompt_learner.layout.text)
    assert all(n == 2 for n in learner.prompt_learner.layout.vision)


def test_the_hand_design_names_vpts_keys_and_backbone(tiny_clip, capsys):
    learner = build_learner("VPT", make_cfg("VPT", **OPTS), tiny_clip)
    assert learner.prompt_learner.layout.backbone == "tiny-random"
    assert "Note: VPT prompts" not in capsys.readouterr().out
    too_deep = tiny_clip.vision_layers + 1
    build_learner("VPT", make_cfg("VPT", N_CTX_VISION=2, PROMPT_DEPTH_VISION=too_deep), tiny_clip)
    assert (f"Note: TRAINER.VPT.PROMPT_DEPTH_VISION is {too_deep} but the model has {tiny_clip.vision_layers} "
            "layers") in capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"^TRAINER\.VPT\.PROMPT_DEPTH_VISION: prompt length 2 must be >= 0"):
        build_learner("VPT", make_cfg("VPT", N_CTX_VISION=2, PROMPT_DEPTH_VISION=-2), tiny_clip)

import json

import pytest
import torch

from dpl.errors import LayoutError
from dpl.prompting import KVPrompt, LayerPrompts, PromptLayout, ReplacePrompt


def test_json_round_trip(tmp_path):
    layout = PromptLayout([1, 0, 3], [2, 2], 6, backbone="ViT-B/16", confidence={"vision": [0.5, 0.4, 0.9],
                          "text": [0.3, 0.2]}, source="search", extra={"note": "x"})
    path = tmp_path / "sub" / "layout.json"
    layout.save(str(path))
    d = json.loads(path.read_text())
    assert d["vision"] == [1, 0, 3] and d["max_length"] == 6 and d["note"] == "x"
    again = PromptLayout.load(str(path), 3, 2, 6)
    assert again == layout and again.num_tokens("vision") == 4 and "ViT-B/16" in again.summary()


@pytest.mark.parametrize("vision,text,match", [
    ([1, 0], [1, 1], "vision branch has 2 layer lengths but the model's vision tower has 3"),
    ([1, -1, 0], [1, 1], "vision layer 1 has prompt length -1; expected an integer in 0..6"),
    ([1, 0, 0], [1, 5], "text layer 1 has prompt length 5; expected an integer in 0..4"),
])
def test_validation_errors_name_file_branch_layer(tmp_path, vision, text, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"vision": vision, "text": text, "max_length": 6}))
    with pytest.raises(LayoutError, match=match) as e:
        PromptLayout.load(str(path), 3, 2, max_length=4)
    assert str(path) in str(e.value)


def test_bad_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(LayoutError, match="broken.json is not valid JSON"):
        PromptLayout.load(str(path))
    with pytest.raises(LayoutError, match="does not exist"):
        PromptLayout.load(str(tmp_path / "none.json"))
    path.write_text(json.dumps({"vision": [1, "2"], "text": []}))
    with pytest.raises(LayoutError, match="vision layer 1 has prompt length '2'"):
        PromptLayout.load(str(path))


def test_specs(tmp_path):
    u = PromptLayout.from_spec("uniform:2", 3, 4, max_length=6)
    assert u.vision == [2, 2, 2] and u.text == [2] * 4
    d = PromptLayout.from_spec("uniform:2:2", 3, 4, max_length=6)
    assert d.vision == [2, 2, 0] and d.text == [2, 2, 0, 0]
    r1, r2 = PromptLayout.from_spec("random:1", 12, 12, 6), PromptLayout.from_spec("random:1", 12, 12, 6)
    assert r1 == r2 and all(0 <= v <= 6 for v in r1.vision + r1.text) and len(set(r1.vision)) > 1
    assert PromptLayout.from_spec("random:2", 12, 12, 6) != r1
    z = PromptLayout.from_spec("zero", 2, 3, 6)
    assert z.vision == [0, 0] and z.text == [0, 0, 0]
    path = tmp_path / "l.json"
    u.save(str(path))
    assert PromptLayout.from_spec(str(path), 3, 4, 6) == u
    with pytest.raises(LayoutError, match="uniform:K:DEPTH"):
        PromptLayout.from_spec("wide:3", 3, 4, 6)
    with pytest.raises(LayoutError, match="expected an integer in 0..6"):
        PromptLayout.from_spec("uniform:7", 3, 4, 6)
    with pytest.raises(LayoutError, match="vision branch has 3"):
        PromptLayout.from_spec(str(path), 2, 4, 6)


def test_layer_prompts():
    layout = PromptLayout([2, 0, 1], [0, 3], 6)
    lp = LayerPrompts(layout, 8, 4, kind="kv", std=0.02)
    assert set(lp.state_dict()) == {"vision.0", "vision.2", "text.1"}
    assert lp.vision["0"].shape == (2, 8) and lp.text["1"].shape == (3, 4)
    vp = lp.vision_prompts()
    assert isinstance(vp[0], KVPrompt) and vp[1] is None and vp[2].tokens is lp.vision["2"]
    assert 0.005 < lp.vision["0"].std().item() < 0.05
    rp = LayerPrompts(layout, 8, 4, kind="replace", dtype=torch.float16).text_prompts()
    assert rp[0] is None and isinstance(rp[1], ReplacePrompt) and rp[1].tokens.dtype == torch.float16
    with pytest.raises(ValueError, match="kind"):
        LayerPrompts(layout, 8, 4, kind="deep")

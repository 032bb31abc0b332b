import json
import os

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


# ---- the layout's contract in detail (a mutation run of dpl/prompting/layout.py left these unpinned) ----------
def _raises(match, fn, *args, **kwargs):
    with pytest.raises(LayoutError) as e:
        fn(*args, **kwargs)
    assert str(e.value) == match, str(e.value)


def test_from_dict_errors_are_exact_with_and_without_a_file():
    _raises("a layout must be a JSON object with 'vision' and 'text' lists; got list", PromptLayout.from_dict, [1])
    _raises("l.json: a layout must be a JSON object with 'vision' and 'text' lists; got str",
            PromptLayout.from_dict, "x", where="l.json")
    _raises("key 'vision' must be a list of per-layer prompt lengths; got None", PromptLayout.from_dict, {"text": []})
    _raises("l.json: key 'text' must be a list of per-layer prompt lengths; got 3",
            PromptLayout.from_dict, {"vision": [], "text": 3}, where="l.json")
    _raises("l.json: text layer 1 has prompt length 2.0; expected an integer",
            PromptLayout.from_dict, {"vision": [1], "text": [1, 2.0]}, where="l.json")
    # a JSON true is an int to Python, not a prompt length
    _raises("vision layer 0 has prompt length True; expected an integer", PromptLayout.from_dict,
            {"vision": [True], "text": []})
    for bad in (-1, "4", 2.5, None):
        _raises(f"l.json: max_length is {bad!r}; expected a non-negative integer", PromptLayout.from_dict,
                {"vision": [0], "text": [0], "max_length": bad}, where="l.json")
    _raises("l.json: vision layer 0 has prompt length 3; expected an integer in 0..2", PromptLayout.from_dict,
            {"vision": [3], "text": [0], "max_length": 2}, where="l.json")


def test_from_dict_defaults_and_every_field_kept():
    bare = PromptLayout.from_dict({"vision": [1, 3], "text": [2]})
    assert (bare.vision, bare.text, bare.max_length, bare.backbone, bare.source) == ([1, 3], [2], 3, "", "")
    assert bare.confidence is None and bare.margin is None and bare.extra == {}
    assert PromptLayout.from_dict({"vision": [], "text": []}).max_length == 0
    assert PromptLayout.from_dict({"vision": [0], "text": [0], "max_length": 0}).max_length == 0
    full = {"backbone": "ViT-B/16", "max_length": 4, "vision": [4, 0], "text": [1],
            "confidence": {"vision": [0.5, 0.25], "text": [1.0]}, "margin": {"vision": [0.1, 0.0], "text": [0.5]},
            "source": "search", "fingerprint": "abc", "note": [1, 2]}
    layout = PromptLayout.from_dict(full)
    assert layout.confidence == full["confidence"] and layout.margin == full["margin"]
    assert layout.extra == {"fingerprint": "abc", "note": [1, 2]}
    assert layout.to_dict() == full


def test_to_dict_writes_only_what_it_has_as_plain_floats():
    layout = PromptLayout([2], [1], 2, confidence={"text": [torch.tensor(0.5).item()]},
                          margin={"vision": [torch.tensor(0.25, dtype=torch.float64)]})
    d = layout.to_dict()
    assert d == {"backbone": "", "max_length": 2, "vision": [2], "text": [1], "confidence": {"text": [0.5]},
                 "margin": {"vision": [0.25]}, "source": ""}
    assert type(d["margin"]["vision"][0]) is float
    assert "confidence" not in PromptLayout([1], [1], 1).to_dict()


def test_layouts_compare_by_their_json_and_describe_themselves():
    a = PromptLayout([1, 0], [2], 3, backbone="ViT-B/16")
    assert a == PromptLayout([1, 0], [2], 3, backbone="ViT-B/16")
    assert a != PromptLayout([1, 0], [2], 4, backbone="ViT-B/16") and a != a.to_dict()
    assert a.summary() == "backbone ViT-B/16, N=3; vision [1, 0] (1 tokens); text [2] (2 tokens)"
    assert PromptLayout([1], [0], 1).summary() == "N=1; vision [1] (1 tokens); text [0] (0 tokens)"
    assert repr(a) == f"PromptLayout({a.summary()})"
    with pytest.raises(LayoutError, match="unknown prompt branch 'image'; expected one of vision, text"):
        a.branch("image")


def test_validate_takes_the_given_limit_and_skips_unknown_depths():
    layout = PromptLayout([3, 0], [1], 3)
    assert layout.validate(None, None) is layout and layout.validate(2, 1, max_length=3) is layout
    _raises("vision layer 0 has prompt length 3; expected an integer in 0..2", layout.validate, None, None, 2)
    _raises("f: the text branch has 1 layer lengths but the model's text tower has 2 layers",
            layout.validate, 2, 2, where="f")
    assert PromptLayout([0], [0], 0).validate(1, 1) is not None  # zero-length layers under N = 0


def test_load_refuses_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "l.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LayoutError, match=f"layout file {path} is not valid JSON"):
        PromptLayout.load(str(path))


def test_uniform_lengths_limits_sources_and_errors():
    u = PromptLayout.uniform(2, 3, 2)
    assert (u.vision, u.text, u.max_length, u.source, u.backbone) == ([2, 2, 2], [2, 2], 2, "uniform:2", "")
    d = PromptLayout.uniform(1, 3, 2, depth=2, max_length=5, backbone="b")
    assert (d.vision, d.text, d.max_length, d.source, d.backbone) == ([1, 1, 0], [1, 1], 5, "uniform:1:2", "b")
    assert PromptLayout.uniform(1, 3, 2, depth=3).text == [1, 1]  # a depth past the shorter tower caps there
    assert PromptLayout.uniform(1, 2, 2, depth=0).vision == [0, 0]
    assert PromptLayout.uniform(0, 2, 1).vision == [0, 0]
    _raises("uniform layout length is -1; expected >= 0", PromptLayout.uniform, -1, 2, 2)
    _raises("uniform layout depth is 4; expected 0..3 (vision has 3 layers, text 2)", PromptLayout.uniform, 1, 3, 2,
            depth=4)
    _raises("uniform layout depth is -1; expected 0..3 (vision has 2 layers, text 3)", PromptLayout.uniform, 1, 2, 3,
            depth=-1)
    _raises("vision layer 0 has prompt length 3; expected an integer in 0..2", PromptLayout.uniform, 3, 1, 1,
            max_length=2)


def test_random_and_zero_layouts():
    state = torch.random.get_rng_state()
    import random
    py_state = random.getstate()
    r = PromptLayout.random(5, 3, 2, 4, backbone="b")
    assert random.getstate() == py_state and torch.equal(torch.random.get_rng_state(), state)
    rng = random.Random(5)
    assert r.vision == [rng.randint(0, 4) for _ in range(3)] and r.text == [rng.randint(0, 4) for _ in range(2)]
    assert (r.max_length, r.source, r.backbone) == (4, "random:5", "b")
    assert PromptLayout.random(5, 3, 2, 4).backbone == ""
    z = PromptLayout.zero(2, 1)
    assert (z.vision, z.text, z.max_length, z.source, z.backbone) == ([0, 0], [0], 0, "zero", "")
    assert (PromptLayout.zero(1, 1, 3, backbone="b").max_length, PromptLayout.zero(1, 1, backbone="b").backbone) == (3, "b")


def test_spec_forms_and_their_errors(tmp_path, monkeypatch):
    s = PromptLayout.from_spec("  uniform:1:1 ", 2, 2, 4, backbone="b")
    assert (s.vision, s.text, s.max_length, s.backbone) == ([1, 0], [1, 0], 4, "b")
    assert PromptLayout.from_spec("random:3", 2, 2, 4, backbone="b") == PromptLayout.random(3, 2, 2, 4, backbone="b")
    assert PromptLayout.from_spec("zero", 2, 2, 4, backbone="b") == PromptLayout.zero(2, 2, 4, backbone="b")
    assert PromptLayout.from_spec("zero", 2, 2, 4).backbone == ""
    forms = ("expected one of: a path to a layout JSON file, uniform:K, uniform:K:DEPTH, random:SEED, zero")
    for spec in ("uniform:x", "uniform:1:y", "random:z"):
        _raises(f"TRAINER.LAYOUT={spec!r} has a non-integer number; {forms}", PromptLayout.from_spec, spec, 2, 2, 4)
    for spec in ("uniform", "uniform:1:2:3", "random", "random:1:2", "zeros"):
        _raises(f"TRAINER.LAYOUT={spec!r} is not a layout; {forms}", PromptLayout.from_spec, spec, 2, 2, 4)
    # a file named without .json or a folder: read as a layout file, and validated against the model
    monkeypatch.chdir(tmp_path)
    PromptLayout([1, 1], [0, 2], 2).save("plain")
    assert PromptLayout.from_spec("plain", 2, 2, 4).text == [0, 2]
    _raises("plain: vision layer 0 has prompt length 1; expected an integer in 0..0", PromptLayout.from_spec,
            "plain", 2, 2, 0)
    for vision_layers, text_layers, branch in ((3, 2, "vision"), (2, 3, "text")):  # each tower's depth checked
        _raises(f"plain: the {branch} branch has 2 layer lengths but the model's {branch} tower has 3 layers",
                PromptLayout.from_spec, "plain", vision_layers, text_layers, 4)
    _raises(f"layout file {os.path.join('sub', 'x')} does not exist", PromptLayout.from_spec,
            os.path.join("sub", "x"), 2, 2, 4)
    _raises("layout file none.json does not exist", PromptLayout.from_spec, "none.json", 2, 2, 4)


def test_layer_prompts_defaults_are_kv_prompts_drawn_with_std_002():
    layout = PromptLayout([64], [0], 64)
    torch.manual_seed(0)
    lp = LayerPrompts(layout, 64, 4)
    assert lp.kind == "kv" and lp.layout is layout and lp.vision["0"].dtype == torch.float32
    assert isinstance(lp.vision_prompts()[0], KVPrompt) and lp.text_prompts() == [None]
    assert abs(lp.vision["0"].std().item() - 0.02) < 0.002  # 4096 draws of N(0, 0.02)
    with pytest.raises(ValueError) as e:
        LayerPrompts(layout, 8, 4, kind="deep")
    assert str(e.value) == "LayerPrompts kind 'deep'; expected one of kv, replace"

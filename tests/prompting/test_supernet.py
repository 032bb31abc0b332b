import pytest
import torch
from prompting_reference import reference_image, reference_text, rel_err

from dpl.prompting import Architecture, PromptLayout, SearchSpace, supernet_prompts

N = 3


@pytest.fixture()
def search(prompted):
    torch.manual_seed(0)
    space = SearchSpace(prompted.vision_layers, prompted.text_layers, prompted.vision_width, prompted.text_width, N,
                        std=0.5)
    arch = Architecture(prompted.vision_layers, prompted.text_layers, N)
    with torch.no_grad():  # spread the weights so every candidate matters
        arch.vision.normal_()
        arch.text.normal_()
    return space, arch


def _grads(loss, params):
    return torch.autograd.grad(loss, params)


def _check(fused_out, ref_out, space, arch, branch):
    probe = torch.randn_like(ref_out)
    params = [getattr(arch, branch)] + list(getattr(space, branch).values())
    assert rel_err(fused_out, ref_out) < 1e-5
    g_fused = _grads((fused_out * probe).sum(), params)
    g_ref = _grads((ref_out * probe).sum(), params)
    for a, b in zip(g_fused, g_ref):
        assert rel_err(a, b) < 1e-5


def test_fused_equals_plain_formula_vision(stock, prompted, images, search):
    space, arch = search
    fused = prompted.encode_image(images, supernet_prompts(space, arch, "vision"))
    w = arch.weights("vision")
    ref = reference_image(stock, images, [(space.candidates("vision", l), w[l]) for l in range(prompted.vision_layers)])
    _check(fused, ref, space, arch, "vision")


def test_fused_equals_plain_formula_text(stock, prompted, text_input, search):
    space, arch = search
    _, emb, eot = text_input
    fused = prompted.encode_text(emb, eot, supernet_prompts(space, arch, "text"))
    w = arch.weights("text")
    ref = reference_text(stock, emb, eot, [(space.candidates("text", l), w[l]) for l in range(prompted.text_layers)])
    _check(fused, ref, space, arch, "text")


def test_naive_flag_matches_fused(prompted, text_input, search):
    space, arch = search
    _, emb, eot = text_input
    with torch.no_grad():
        a = prompted.encode_text(emb, eot, supernet_prompts(space, arch, "text", naive=True))
        b = prompted.encode_text(emb, eot, supernet_prompts(space, arch, "text"))
    assert rel_err(b, a) < 1e-5


def test_one_hot_weights_equal_fixed_prompt(stock, prompted, images, search):
    space, arch = search
    with torch.no_grad():
        arch.vision.fill_(-1e4)
        arch.vision[:, 2] = 0.0  # all weight on length 2
        fused = prompted.encode_image(images, supernet_prompts(space, arch, "vision"))
        from dpl.prompting import KVPrompt
        fixed = prompted.encode_image(images, [KVPrompt(space.candidates("vision", l)[1]) for l in range(2)])
    assert rel_err(fused, fixed) < 1e-5


def test_search_space_shapes_and_state_dict(prompted, search):
    space, arch = search
    assert len(space.vision) == prompted.vision_layers * N  # one tensor per layer and length 1..N
    assert sum(c.shape[0] for c in space.candidates("vision", 0)) == N * (N + 1) // 2
    assert [c.shape for c in space.candidates("text", 1)] == [(k, prompted.text_width) for k in range(1, N + 1)]
    assert arch.vision.shape == (prompted.vision_layers, N + 1) and arch.text.shape == (prompted.text_layers, N + 1)
    assert not any("model" in name for name, _ in space.named_parameters())
    other_space = SearchSpace(prompted.vision_layers, prompted.text_layers, prompted.vision_width,
                              prompted.text_width, N)
    other_arch = Architecture(prompted.vision_layers, prompted.text_layers, N)
    other_space.load_state_dict(space.state_dict())
    other_arch.load_state_dict(arch.state_dict())
    assert torch.equal(other_arch.text, arch.text)
    assert torch.equal(other_space.candidates("vision", 1)[2], space.candidates("vision", 1)[2])
    assert set(arch.state_dict()) == {"vision", "text"}


def test_alpha_init_is_small():
    arch = Architecture(4, 3, 6)
    assert arch.vision.abs().max() < 1e-2 and arch.text.shape == (3, 7)
    assert torch.allclose(arch.probabilities()["text"].sum(-1), torch.ones(3))


def test_derive_layout_confidence_and_margin(tmp_path):
    arch = Architecture(2, 2, 3)
    with torch.no_grad():
        arch.vision.copy_(torch.log(torch.tensor([[0.1, 0.2, 0.6, 0.1], [0.5, 0.3, 0.1, 0.1]])))
        arch.text.copy_(torch.log(torch.tensor([[0.25, 0.25, 0.1, 0.4], [0.1, 0.1, 0.1, 0.7]])))
    layout = arch.derive_layout(backbone="ViT-B/16", source="run")
    assert layout.vision == [2, 0] and layout.text == [3, 3] and layout.max_length == 3
    assert layout.confidence["vision"] == pytest.approx([0.6, 0.5])
    assert layout.margin["vision"] == pytest.approx([0.4, 0.2]) and layout.margin["text"] == pytest.approx([0.15, 0.6])
    layout.save(tmp_path / "layout.json")
    again = PromptLayout.load(str(tmp_path / "layout.json"), 2, 2, 3)
    assert again == layout and again.margin["text"] == pytest.approx([0.15, 0.6])


def test_recomputed_mixture_equals_stored_one(prompted, text_input, search):
    """Activation checkpointing of the fused core changes memory, never the outputs or gradients."""
    space, arch = search
    _, emb, eot = text_input
    params = [arch.text] + list(space.text.values())
    stored = prompted.encode_text(emb, eot, supernet_prompts(space, arch, "text"))
    recomputed = prompted.encode_text(emb, eot, supernet_prompts(space, arch, "text", recompute=True))
    assert torch.equal(stored, recomputed)
    probe = torch.randn_like(stored)
    for a, b in zip(_grads((stored * probe).sum(), params), _grads((recomputed * probe).sum(), params)):
        assert rel_err(a, b) < 1e-6


def test_derive_layout_names_its_source_and_handles_one_or_two_lengths():
    arch = Architecture(1, 2, 3)
    layout = arch.derive_layout(backbone="ViT-B/16", source="run")
    assert (layout.backbone, layout.source) == ("ViT-B/16", "run")
    assert (arch.derive_layout().backbone, arch.derive_layout().source) == ("", "")
    # ties go to the shortest length, as torch.argmax in the official train stage
    with torch.no_grad():
        arch.vision.copy_(torch.tensor([[0.0, 1.0, 1.0, 1.0]]))
    assert arch.derive_layout().vision == [1]
    # N = 1: the runner-up is the other length; N = 0: no runner-up, the margin is the winner's whole probability
    two = Architecture(2, 1, 1)
    with torch.no_grad():
        two.vision.copy_(torch.log(torch.tensor([[0.3, 0.7], [0.9, 0.1]])))
    assert two.derive_layout().margin["vision"] == pytest.approx([0.4, 0.8])
    one = Architecture(2, 3, 0).derive_layout()
    assert (one.vision, one.text, one.max_length) == ([0, 0], [0, 0, 0], 0)
    assert one.confidence == {"vision": [1.0, 1.0], "text": [1.0, 1.0, 1.0]}
    assert one.margin == {"vision": [1.0, 1.0], "text": [1.0, 1.0, 1.0]}


def test_search_space_arguments_and_errors():
    assert SearchSpace(1, 1, 8, 4, 1).max_length == 1  # one candidate per layer is a search space
    torch.manual_seed(0)
    normal = SearchSpace(1, 1, 64, 64, 8, init="normal")  # std defaults to the train stage's 0.02
    values = torch.cat([p.detach().flatten() for p in normal.parameters()])
    assert abs(values.std().item() - 0.02) < 0.002
    for dtype in (torch.float16, torch.float64):
        assert {p.dtype for p in SearchSpace(1, 1, 8, 4, 2, dtype=dtype).parameters()} == {dtype}
    for kwargs, message in (({"max_length": 0}, "SearchSpace: max_length is 0; expected >= 1"),
                            ({"max_length": 2, "init": "xavier"},
                             "SearchSpace: init is 'xavier'; expected one of official, normal")):
        with pytest.raises(ValueError) as e:
            SearchSpace(1, 1, 8, 4, **kwargs)
        assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        SearchSpace(1, 1, 8, 4, 2).candidates("image", 0)
    assert str(e.value) == "unknown prompt branch 'image'; expected one of vision, text"


def test_alphas_are_drawn_on_construction_as_the_official_code_draws_them():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        arch = Architecture(2, 3, 4)
        torch.manual_seed(0)
        vision, text = 1e-3 * torch.randn(2, 5), 1e-3 * torch.randn(3, 5)
    assert torch.equal(arch.vision.detach(), vision) and torch.equal(arch.text.detach(), text)


def test_supernet_prompts_are_fused_and_stored_unless_told(search):
    space, arch = search
    for mixture in supernet_prompts(space, arch, "vision"):
        assert (mixture.naive, mixture.recompute) == (False, False)
    for naive, recompute in ((True, False), (False, True)):
        for mixture in supernet_prompts(space, arch, "text", naive=naive, recompute=recompute):
            assert (mixture.naive, mixture.recompute) == (naive, recompute)
    with pytest.raises(ValueError) as e:
        supernet_prompts(space, Architecture(1, 1, N + 1), "vision")
    assert str(e.value) == f"SearchSpace has N={N} but Architecture has N={N + 1}"

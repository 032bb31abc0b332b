"""DPL helpers that need no trainer: ensemble text input, alpha files, diagnostics, the plot."""
import json

import pytest
import torch

from dpl.backbones.loading import build_tiny_clip
from dpl.method.dpl_text import DEFAULT_TEMPLATE, aligned_ensemble_text_input, class_text_input
from dpl.errors import ConfigError
from dpl.search import diagnose, load_alpha_history, plot_search, save_alpha_probabilities
from dpl.method.text import class_prompt_inputs

CLASSES = ["dog", "golden_retriever", "a very long class name with many words"]


@pytest.fixture(scope="module")
def clip_model():
    from dpl.prompting import PromptedCLIP

    return PromptedCLIP(build_tiny_clip().float().eval())


def test_ensemble_eot_is_a_real_eot_embedding(clip_model):
    templates = ["a photo of a {}.", "itap of the {}.", "a photo of the hard to see {}."]
    emb, eot = aligned_ensemble_text_input(clip_model, CLASSES, templates)
    eot_vector = clip_model.token_embedding.weight[49407]
    for c in range(len(CLASSES)):
        assert torch.allclose(emb[c, int(eot[c])], eot_vector, atol=1e-6)
        # every template's EOT is at or before the common one; the longest sets it
        own = torch.stack([class_prompt_inputs(clip_model, CLASSES, t)[1][c] for t in templates])
        assert int(eot[c]) == int(own.max())
    # the last content position averages the "." of all three templates (all end with "{}.")
    dot = clip_model.token_embedding.weight[269]
    assert torch.allclose(emb[0, int(eot[0]) - 1], dot, atol=1e-6)


def test_official_ensemble_is_the_plain_positionwise_mean_read_at_the_last_templates_eot(clip_model):
    """The official train-stage input, from its definition: stack the token embeddings of every template of the
    official 60-template list, average position by position, and read the feature at the EOT of the last one."""
    import clip

    from dpl.method.templates import IMAGENET_TEMPLATES_60

    assert len(IMAGENET_TEMPLATES_60) == 60
    assert IMAGENET_TEMPLATES_60[0] == "a photo of a {}." and IMAGENET_TEMPLATES_60[-1] == "itap of the {}."
    names = [c.replace("_", " ") for c in CLASSES]
    per_template = []
    for template in IMAGENET_TEMPLATES_60:
        tokens = torch.cat([clip.tokenize(template.replace("{}", n)) for n in names])
        per_template.append(clip_model.token_embedding(tokens).detach())
    expected = torch.stack(per_template).mean(dim=0)
    emb, eot = class_text_input(clip_model, CLASSES, "ensemble")
    assert torch.allclose(emb, expected, atol=1e-6)
    assert eot.tolist() == tokens.argmax(dim=-1).tolist()  # the last template's EOT positions
    aligned, aligned_eot = class_text_input(clip_model, CLASSES, "ensemble_aligned")
    assert not torch.allclose(aligned, emb) and aligned_eot.tolist() != eot.tolist()


def test_default_and_custom_text_input(clip_model):
    emb, eot = class_text_input(clip_model, CLASSES, "default")
    ref, ref_eot, _ = class_prompt_inputs(clip_model, CLASSES, DEFAULT_TEMPLATE)
    assert torch.equal(emb, ref) and torch.equal(eot, ref_eot)
    emb2, _ = class_text_input(clip_model, CLASSES, "itap of a {}.")
    assert not torch.equal(emb2, emb)
    with pytest.raises(ConfigError, match="CTX_INIT"):
        class_text_input(clip_model, CLASSES, "no placeholder")


def test_alpha_files_named_by_branch(tmp_path):
    probs = {"vision": torch.tensor([[0.9, 0.1], [0.2, 0.8]]), "text": torch.tensor([[0.3, 0.7]])}
    path = save_alpha_probabilities(str(tmp_path), 3, probs)
    assert path.endswith("alphas/epoch_3.json")
    data = json.load(open(path))
    assert set(data) == {"vision", "text"}
    assert len(data["vision"]) == 2 and len(data["text"]) == 1
    save_alpha_probabilities(str(tmp_path), 10, probs)
    assert [e for e, _ in load_alpha_history(str(tmp_path))] == [3, 10]


def test_diagnostics_warn_on_collapse_and_indecision():
    collapsed = {"vision": torch.tensor([[0.9, 0.1]] * 3), "text": torch.tensor([[0.9, 0.1], [0.1, 0.9]])}
    report = diagnose(collapsed, collapse_fraction=0.75, undecided_margin=0.05)
    assert report.zero_layers == 4 and report.total_layers == 5
    assert any("collapsed" in w for w in report.warnings)
    undecided = {"vision": torch.tensor([[0.51, 0.49]]), "text": torch.tensor([[0.49, 0.51]])}
    report = diagnose(undecided, collapse_fraction=0.75, undecided_margin=0.05)
    assert report.lengths == {"vision": [0], "text": [1]}
    assert any("undecided" in w for w in report.warnings) and not any("collapsed" in w for w in report.warnings)
    assert any(line.startswith("WARNING") for line in report.lines())
    decided = {"vision": torch.tensor([[0.1, 0.9]]), "text": torch.tensor([[0.05, 0.95]])}
    assert diagnose(decided).warnings == []


def test_plot_writes_png(tmp_path):
    probs = {"vision": torch.softmax(torch.randn(3, 4), -1).numpy(),
             "text": torch.softmax(torch.randn(2, 4), -1).numpy()}
    history = [(e, {b: p.tolist() for b, p in probs.items()}) for e in (1, 2)]
    path = plot_search(probs, history, str(tmp_path / "layout.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_has_integer_ticks_a_scale_that_shows_differences_a_title_and_the_warnings():
    from dpl.search.plot import search_figure

    probs = {"vision": [[0.30, 0.36, 0.34], [0.33, 0.33, 0.34]], "text": [[0.40, 0.35, 0.25], [0.2, 0.5, 0.3]]}
    history = [(e, probs) for e in (1, 2, 3, 4, 5, 6, 7)]
    fig = search_figure(probs, history, title="DPL search: Demo (my_photos), seed 3",
                        notes=["search undecided: mean margin 0.010 < UNDECIDED_MARGIN 0.05"])
    top, bottom = fig.axes[0], fig.axes[2]  # vision panels (colour bars are axes too)
    for ax in (top, bottom):
        ticks = list(ax.get_yticks())
        assert ticks and all(float(t).is_integer() for t in ticks)
    assert all(float(t).is_integer() for t in bottom.get_xticks())
    assert top.images[0].get_clim() == pytest.approx((0.30, 0.36))  # near-uniform rows still differ in colour
    assert "seed 3" in fig._suptitle.get_text() and "my_photos" in fig._suptitle.get_text()
    assert any("undecided" in t.get_text() for t in fig.texts)


def test_ensemble_aligned_averages_clips_80_templates(clip_model):
    """README: ``ensemble_aligned`` = CLIP's 80 templates with their EOTs aligned. All 80 take part (dropping the last
    one changes the input), and the feature position holds the EOT embedding itself (every template's EOT lands there)."""
    from dpl.method.templates import IMAGENET_TEMPLATES

    assert len(IMAGENET_TEMPLATES) == 80 and len(set(IMAGENET_TEMPLATES)) == 80
    emb, eot = class_text_input(clip_model, CLASSES, "ensemble_aligned")
    full, full_eot = aligned_ensemble_text_input(clip_model, CLASSES, IMAGENET_TEMPLATES)
    assert torch.equal(emb, full) and torch.equal(eot, full_eot)
    fewer, _ = aligned_ensemble_text_input(clip_model, CLASSES, IMAGENET_TEMPLATES[:79])
    assert not torch.equal(emb, fewer)
    eot_token = clip_model.token_embedding.weight[clip_model.token_embedding.weight.shape[0] - 1]
    for c, position in enumerate(eot.tolist()):
        assert torch.allclose(emb[c, position].float(), eot_token.float(), atol=1e-3)

"""What each baseline saves (its learned prompts only, never CLIP) and base -> new transfer: a state trained on
base classes loads into a learner built for other classes, whose text side is rebuilt from the class names."""
import pytest
import torch

from baseline_helpers import BASE, NEW, build_learner, make_cfg

CASES = [
    ("CoCoOp", "COCOOP", {"N_CTX": 4, "CTX_INIT": "a photo of a"}),
    ("IVLP", "IVLP", {"PROMPT_DEPTH_VISION": 3, "PROMPT_DEPTH_TEXT": 2}),
    ("VPT", "VPT", {"N_CTX_VISION": 3, "PROMPT_DEPTH_VISION": 2}),
    ("MaPLe", "MAPLE", {"PROMPT_DEPTH": 2}),
    ("PromptSRC", "PROMPTSRC", {"PROMPT_DEPTH_VISION": 2, "PROMPT_DEPTH_TEXT": 2}),
]


@pytest.mark.parametrize("trainer,node,opts", CASES)
def test_state_holds_only_learned_parameters(trainer, node, opts, tiny_clip):
    learner = build_learner(trainer, make_cfg(node, **opts), tiny_clip)
    state = learner.prompt_learner.state_dict()
    params = dict(learner.prompt_learner.named_parameters())
    assert state and set(state) == set(params)  # no buffers (class prompts, frozen features) are saved
    assert all(p.requires_grad for p in params.values())
    clip_ids = {id(p) for p in tiny_clip.parameters()}
    assert not any(id(p) in clip_ids for p in params.values())
    n_saved = sum(t.numel() for t in state.values())
    assert n_saved < sum(p.numel() for p in tiny_clip.parameters()) // 10


@pytest.mark.parametrize("trainer,node,opts", CASES)
def test_base_state_loads_on_new_classes(trainer, node, opts, tiny_clip, images, tmp_path):
    cfg = make_cfg(node, **opts)
    base = build_learner(trainer, cfg, tiny_clip, BASE)
    with torch.no_grad():
        for p in base.prompt_learner.parameters():
            p.add_(0.05)  # "trained": differs from a fresh initialisation
    torch.save(base.prompt_learner.state_dict(), tmp_path / "prompts.pth")

    new = build_learner(trainer, cfg, tiny_clip, NEW)
    new.prompt_learner.load_state_dict(torch.load(tmp_path / "prompts.pth", weights_only=True))  # strict: same keys and shapes
    for name, p in new.prompt_learner.named_parameters():
        assert torch.equal(p, dict(base.prompt_learner.named_parameters())[name]), name
    new.eval()
    with torch.no_grad():
        logits = new(images)
    assert logits.shape == (len(images), len(NEW))
    assert torch.isfinite(logits).all()

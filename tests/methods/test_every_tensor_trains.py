"""Every tensor a method learns moves in training, and every frozen CLIP weight stays bit-identical, for every
learning trainer on both backbone families in fp32 and fp16. The optimizers hold exactly the learner's trainable
parameters: a deep prompt (or MaPLe projection) left out of the optimizer fails here."""
import pytest
import torch
from methods_helpers import BACKBONES, LEARNING_TRAINERS, build_on, take_steps

# What each method must learn, by the registered model's state-dict key (tiny-random: 4 vision, 3 text layers;
# the published configs put prompts deeper than the first layer for every deep method).
DEEP = {"IVLP", "VPT", "MaPLe", "PromptSRC", "DPL", "DPLSearch"}


def frozen_state(trainer):
    return {k: v.detach().clone() for k, v in trainer.clip.state_dict().items()}


def trainable(trainer):
    """Every parameter of every registered model that requires grad, by name."""
    return {f"{name}.{k}": p for name in trainer.get_model_names()
            for k, p in trainer._models[name].named_parameters() if p.requires_grad}


def optimised(trainer):
    return {id(p) for name in trainer.get_model_names() if trainer._optims[name] is not None
            for group in trainer._optims[name].param_groups for p in group["params"]}


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("name", LEARNING_TRAINERS)
def test_every_learned_tensor_moves_and_clip_stays(name, backbone, precision, data_root, tmp_path):
    trainer = build_on(name, backbone, data_root, tmp_path, precision)
    learned = trainable(trainer)
    clip_params = {id(p) for p in trainer.clip.parameters()}
    assert learned, "nothing to learn"
    assert optimised(trainer) == {id(p) for p in learned.values()}  # no trainable tensor outside an optimizer
    assert not clip_params & {id(p) for p in learned.values()}  # no CLIP weight among them
    assert not any(p.requires_grad for p in trainer.clip.parameters())
    # the learner's own parameters (outside CLIP) are all trainable: none silently frozen
    outside_clip = [k for k, p in trainer.model.named_parameters() if id(p) not in clip_params]
    assert all(trainer.model.get_parameter(k).requires_grad for k in outside_clip), outside_clip
    if name in DEEP:  # prompts beyond the first layer exist (so the check below covers deep prompts)
        assert len(learned) > 2, sorted(learned)

    before_learned = {k: p.detach().clone() for k, p in learned.items()}
    before_frozen = frozen_state(trainer)
    summaries = take_steps(trainer, 2)
    assert all(torch.isfinite(torch.tensor(s["loss"])) for s in summaries)

    # Element by element, so a slice left out (a layer's rows, a token) fails too. fp32: at least 99% of each
    # tensor moved (a dead ReLU unit of CoCoOp's meta-net or a tiny MaPLe projection update may round to nothing);
    # fp16-stored tensors (CoCoOp's meta-net, MaPLe's projections) lose most small updates to rounding: some moved.
    needed = 0.99 if trainer.precision == "fp32" else 1e-9
    moved = {k: float((p.detach() != before_learned[k]).float().mean()) for k, p in learned.items()}
    stuck = {k: f for k, f in moved.items() if f < needed}
    assert stuck == {}, f"{name} ({backbone}, {precision}): learned tensors (fraction of elements moved): {stuck}"
    after_frozen = frozen_state(trainer)
    moved = [k for k in before_frozen if not torch.equal(after_frozen[k], before_frozen[k])]
    assert moved == [], f"{name} ({backbone}, {precision}): frozen CLIP tensors that changed: {moved}"

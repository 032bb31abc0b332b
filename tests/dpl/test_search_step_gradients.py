"""Each search pass differentiates only the model its step updates (the alpha pass the alphas, the prompt pass the
prompts), and that changes no number: the run equals one that differentiates both in every pass, as the official
step does."""
import contextlib

import torch

import trainers.dpl_search as dpl_search
from dpl_harness import build

OPTS = ["TEST.NO_TEST", True, "TRAINER.DPL.ALPHA_BATCHES", "cycle", "DATALOADER.TEST.BATCH_SIZE", 4]


def learned(trainer):
    return {f"{name}.{k}": v.detach().clone() for name in ("prompt_learner", "architecture")
            for k, v in trainer._models[name].state_dict().items()}


def run(data_root, out):
    trainer = build(data_root, out, "DPLSearch", OPTS)
    after_alpha_pass = []
    update = trainer.backward_and_update

    def recording(loss, names=None):
        update(loss, names)
        if names == ["architecture"]:
            after_alpha_pass.append([p.grad is not None for p in trainer.model.prompt_learner.parameters()])
    trainer.backward_and_update = recording
    trainer.train()
    return learned(trainer), after_alpha_pass


def test_alpha_pass_leaves_the_prompts_undifferentiated_and_the_run_unchanged(data_root, tmp_path, monkeypatch):
    ours, grads_after_alpha = run(data_root, tmp_path / "ours")
    assert grads_after_alpha and not any(grads_after_alpha[0])  # first alpha pass: no prompt gradient was made

    monkeypatch.setattr(dpl_search, "constant", lambda module: contextlib.nullcontext())
    both, grads_both = run(data_root, tmp_path / "both")
    assert all(grads_both[0])  # the reference did differentiate the prompts in the alpha pass

    assert ours.keys() == both.keys()
    for key in ours:
        assert torch.equal(ours[key], both[key]), key

"""A run killed at any file rename of an epoch's end resumes to exactly the uninterrupted result: all models of
one epoch (DPLSearch's prompts and alphas), the trainer's own state (PromptSRC's GPA running sum) and the
epoch's side files (DPLSearch's alphas/epoch_N.json) form one unit."""
import json

import pytest
import torch

from kill_points import SimulatedKill, arm_kill_at_rename
from trainer_harness import build, learned_state

EPOCHS = 3
KILL_EPOCH = 2
OPTS = {
    "DPLSearch": ["OPTIM.MAX_EPOCH", EPOCHS, "TRAIN.CHECKPOINT_FREQ", 1, "TEST.NO_TEST", True],
    # GPA weighs every epoch (mean 2, std 1 over 3 epochs), so a lost or doubled epoch changes the result
    "PromptSRC": ["OPTIM.MAX_EPOCH", EPOCHS, "TRAIN.CHECKPOINT_FREQ", 1, "TEST.NO_TEST", True,
                  "TRAINER.PROMPTSRC.GPA_MEAN", 2, "TRAINER.PROMPTSRC.GPA_STD", 1],
}


def alpha_files(out):
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "alphas").glob("epoch_*.json"))}


_STRAIGHT = {}


def straight_run(name, data_root, tmp_path_factory):
    """The uninterrupted run's learned state (and alpha files), once per trainer."""
    if name not in _STRAIGHT:
        out = tmp_path_factory.mktemp(f"straight_{name}")
        trainer = build(name, data_root, out, opts=OPTS[name])
        trainer.train()
        _STRAIGHT[name] = (name, learned_state(trainer), alpha_files(out) if name == "DPLSearch" else None)
    return _STRAIGHT[name]


@pytest.fixture(params=sorted(OPTS))
def straight(request, data_root, tmp_path_factory):
    return straight_run(request.param, data_root, tmp_path_factory)


def test_kill_at_every_rename_of_an_epoch_end_resumes_to_the_same_result(straight, data_root, tmp_path, monkeypatch):
    name, expected, expected_alphas = straight
    k = 0
    while True:
        k += 1
        out = tmp_path / f"kill{k}"
        with monkeypatch.context() as patch:
            first = build(name, data_root, out, opts=OPTS[name])
            kill = arm_kill_at_rename(patch, first, KILL_EPOCH, k)
            try:
                first.train()
            except SimulatedKill:
                pass
        if "killed_at" not in kill:  # k is past the last rename of that epoch's end: every point was tried
            assert k > 2, "the epoch end wrote less than two files: nothing to test"
            break
        resumed = build(name, data_root, out, opts=OPTS[name])
        resumed.train()
        where = f"killed at rename {k} ({kill['killed_at']})"
        state = learned_state(resumed)
        assert state.keys() == expected.keys(), where
        for key in expected:
            assert torch.allclose(state[key], expected[key], atol=1e-6), f"{key} differs after a run {where}"
        if expected_alphas is not None:
            assert alpha_files(out) == expected_alphas, f"alphas/ differ after a run {where}"


def test_pointers_at_different_epochs_resume_every_model_from_the_newest_common_epoch(data_root, tmp_path,
                                                                                        tmp_path_factory, capsys):
    """What the per-model writes of earlier versions left after a kill: prompts at epoch 2, alphas at epoch 1."""
    _, expected, _ = straight_run("DPLSearch", data_root, tmp_path_factory)
    first = build("DPLSearch", data_root, tmp_path, opts=OPTS["DPLSearch"])

    def stop():
        if first.epoch + 1 == 3:
            raise KeyboardInterrupt
    first.before_epoch = stop
    with pytest.raises(KeyboardInterrupt):
        first.train()
    (tmp_path / "architecture" / "model.pth.tar-2").unlink()
    (tmp_path / "architecture" / "checkpoint").write_text("model.pth.tar-1\n")
    capsys.readouterr()
    resumed = build("DPLSearch", data_root, tmp_path, opts=OPTS["DPLSearch"])
    resumed.train()
    out = capsys.readouterr().out
    assert "prompt_learner: epoch 2, architecture: epoch 1" in out and "Previous epoch: 1" in out
    state = learned_state(resumed)
    for key in expected:
        assert torch.allclose(state[key], expected[key], atol=1e-6), key

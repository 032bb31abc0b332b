"""PromptSRC behaviours the mutation run (docs/testing.md, "Mutation score") found unpinned: the GPA running sum's
resume (restored onto the trainer's device only when it belongs to the checkpoint's epoch, with what the log says
either way), and the log lines of the frozen text target and of the GPA average."""
import pytest
import torch

from baseline_helpers import build_learner, make_cfg
from trainers.promptsrc import PromptSRC, gpa_weights

OPTS = {"PROMPT_DEPTH_VISION": 2, "PROMPT_DEPTH_TEXT": 2}


def trainer_at(device):
    trainer = PromptSRC.__new__(PromptSRC)  # no engine: only the checkpoint hooks are exercised
    trainer.device, trainer.scaler, trainer.gpa_state = torch.device(device), None, None
    return trainer


def test_resume_restores_the_running_sum_of_its_epoch_on_the_trainer_device(capsys):
    trainer = trainer_at("meta")  # any device other than the CPU the checkpoint was loaded on
    running = {"ctx": torch.ones(2, 3)}
    trainer.restore_checkpoint_extras({"epoch": 2, "gpa": {"epochs_done": 2, "sum": running}})
    assert set(trainer.gpa_state) == {"ctx"} and trainer.gpa_state["ctx"].device.type == "meta"
    assert trainer.gpa_state["ctx"].shape == (2, 3)
    assert "GPA: resumed the running sum of epochs 1..2\n" in capsys.readouterr().out


OLD_CHECKPOINT_WARNING = ("Warning: the checkpoint of epoch 3 holds no GPA running sum (written by an older "
                          "version); the aggregate covers the remaining epochs only\n")


@pytest.mark.parametrize("gpa", [None, {"epochs_done": 2, "sum": {"ctx": torch.ones(2, 3)}}],
                         ids=["no sum (older version)", "sum of another epoch"])
def test_resume_without_the_epochs_running_sum_starts_a_new_one_and_says_so(gpa, capsys):
    trainer = trainer_at("cpu")
    checkpoint = {"epoch": 3} if gpa is None else {"epoch": 3, "gpa": gpa}
    trainer.restore_checkpoint_extras(checkpoint)
    assert trainer.gpa_state is None
    assert OLD_CHECKPOINT_WARNING in capsys.readouterr().out


def test_the_log_says_when_the_frozen_text_target_is_computed(tiny_clip, images, capsys):
    learner = build_learner("PromptSRC", make_cfg("PROMPTSRC", **OPTS), tiny_clip)
    learner.train()
    learner(images)
    learner(images)
    out = capsys.readouterr().out
    assert out.count("Computing frozen text features over 60 ImageNet templates (once)\n") == 1


def test_the_log_says_when_the_gpa_average_replaces_the_prompts(tiny_clip, monkeypatch, capsys):
    from dpl.engine.trainer import SimpleTrainer

    monkeypatch.setattr(SimpleTrainer, "after_epoch", lambda self: None)
    trainer = trainer_at("cpu")
    trainer.model = build_learner("PromptSRC", make_cfg("PROMPTSRC", **OPTS), tiny_clip)
    trainer.gpa, trainer.max_epoch = gpa_weights(2, 2, 1), 2
    capsys.readouterr()  # the learner's own build lines
    said = []
    for trainer.epoch in range(2):
        trainer.after_epoch()
        said.append(capsys.readouterr().out)
    assert said == ["", "GPA: loading the Gaussian-weighted average of the prompts of every epoch\n"]

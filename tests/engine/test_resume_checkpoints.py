"""Resume with the defaults: a checkpoint every epoch, the newest few kept, a deleted ``checkpoint`` pointer
recovered from the files, an unreadable newest checkpoint replaced by the previous one (both named)."""
import os

import pytest
import torch

from dpl.errors import CheckpointError
from test_trainer import make_trainer, weights


def interrupted_before(cfg, epoch):
    """A run stopped as epoch ``epoch`` (1-based) begins: the checkpoints of the epochs before it are on disk."""
    trainer = make_trainer(cfg)

    def stop():
        if trainer.epoch + 1 == epoch:
            raise KeyboardInterrupt
    trainer.before_epoch = stop
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


@pytest.fixture
def reference(toy_cfg, tmp_path):
    toy_cfg.OPTIM.MAX_EPOCH = 4
    toy_cfg.TEST.NO_TEST = True
    out = toy_cfg.OUTPUT_DIR
    toy_cfg.OUTPUT_DIR = str(tmp_path / "straight")
    trainer = make_trainer(toy_cfg)
    trainer.train()
    toy_cfg.OUTPUT_DIR = out
    return weights(trainer)


def test_defaults_checkpoint_every_epoch_and_keep_the_newest_three(toy_cfg):
    toy_cfg.OPTIM.MAX_EPOCH = 5
    toy_cfg.TEST.NO_TEST = True
    make_trainer(toy_cfg).train()
    folder = os.path.join(toy_cfg.OUTPUT_DIR, "linear")
    assert sorted(os.listdir(folder)) == ["checkpoint", "model.pth.tar-3", "model.pth.tar-4", "model.pth.tar-5"]
    with pytest.raises(CheckpointError, match="CHECKPOINT_KEEP"):  # says why epoch 1 is gone
        make_trainer(toy_cfg).load_model(toy_cfg.OUTPUT_DIR, epoch=1)


def test_keep_zero_keeps_every_epoch(toy_cfg):
    toy_cfg.OPTIM.MAX_EPOCH = 4
    toy_cfg.TEST.NO_TEST = True
    toy_cfg.TRAIN.CHECKPOINT_KEEP = 0
    make_trainer(toy_cfg).train()
    names = os.listdir(os.path.join(toy_cfg.OUTPUT_DIR, "linear"))
    assert {f"model.pth.tar-{e}" for e in range(1, 5)} <= set(names)


def test_a_deleted_pointer_is_recovered_from_the_files(toy_cfg, reference, capsys):
    interrupted_before(toy_cfg, 3)
    os.remove(os.path.join(toy_cfg.OUTPUT_DIR, "linear", "checkpoint"))
    capsys.readouterr()
    resumed = make_trainer(toy_cfg, seed=123)  # a different RNG state: the checkpoint's must win
    resumed.train()
    out = capsys.readouterr().out
    assert "recovered from the checkpoint files" in out and "Previous epoch: 2" in out
    assert "epoch [1/4]" not in out and "epoch [3/4]" in out
    for k, v in weights(resumed).items():
        assert torch.equal(v, reference[k]), k


def test_an_unreadable_checkpoint_falls_back_to_the_previous_one(toy_cfg, reference, capsys):
    interrupted_before(toy_cfg, 4)
    folder = os.path.join(toy_cfg.OUTPUT_DIR, "linear")
    with open(os.path.join(folder, "model.pth.tar-3"), "wb") as f:
        f.write(b"truncated by a full disk")
    capsys.readouterr()
    resumed = make_trainer(toy_cfg, seed=123)
    resumed.train()
    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if "Falling back" in line)
    assert "model.pth.tar-3" in warning and "model.pth.tar-2" in warning
    assert "Previous epoch: 2" in out
    for k, v in weights(resumed).items():
        assert torch.equal(v, reference[k]), k

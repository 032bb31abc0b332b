"""The toy TrainerX through the engine: Dassl's print line, `Finish training`, the `=> result` block,
checkpoint layout, best_val, resume after an interruption, corrupt checkpoints."""
import re

import pytest
import torch

from dpl.engine import build_trainer
from dpl.engine.utils import set_random_seed
from dpl.errors import CheckpointError, UnknownNameError

LINE = re.compile(r"^epoch \[(\d+)/(\d+)\] batch \[(\d+)/(\d+)\] time [\d.]+ \([\d.]+\) data [\d.]+ \([\d.]+\) "
                  r"loss [\d.]+ \([\d.]+\) acc [\d.]+ \([\d.]+\) lr \d\.\d{4}e[+-]\d\d eta \d+:\d\d:\d\d$")


def make_trainer(cfg, seed=0):
    set_random_seed(seed)
    return build_trainer(cfg)


def weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_train_prints_dassl_lines_and_saves_checkpoints(toy_cfg, capsys):
    trainer = make_trainer(toy_cfg)
    trainer.train()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch [")]
    assert lines and all(LINE.match(line) for line in lines), lines
    # 12 train images / batch 4 = 3 batches, PRINT_FREQ 2: batch 2 of each epoch only
    assert [LINE.match(line).group(1, 3) for line in lines] == [("1", "2"), ("2", "2")]
    assert "lr 1.0000e-05" in lines[0] and "lr 2.0000e-03" in lines[1]  # constant warm-up, then LR
    assert "Finish training" in out.splitlines()
    block = out[out.index("=> result"):]
    for key in ("total: 9", "correct: ", "accuracy: ", "error: ", "macro_f1: "):
        assert f"* {key}" in block
    assert re.search(r"^Elapsed: \d+:\d\d:\d\d$", out, re.M)
    ckpt = toy_cfg.OUTPUT_DIR + "/linear/"
    assert (open(ckpt + "checkpoint").read().strip()) == "model.pth.tar-2"
    state = torch.load(ckpt + "model.pth.tar-2", weights_only=True)
    assert state["epoch"] == 2 and {"optimizer", "scheduler", "rng_state", "val_result"} <= set(state)
    assert set(trainer.last_results) == {"accuracy", "error_rate", "macro_f1"}
    assert trainer.last_results["accuracy"] + trainer.last_results["error_rate"] == pytest.approx(100)


def test_every_batch_printed_when_fewer_batches_than_print_freq(toy_cfg, capsys):
    toy_cfg.TRAIN.PRINT_FREQ = 10
    toy_cfg.TEST.NO_TEST = True
    make_trainer(toy_cfg).train()
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if LINE.match(line)]) == 6
    assert "=> result" not in out


def test_best_val_saves_and_deploys_model_best(toy_cfg, capsys):
    toy_cfg.TEST.FINAL_MODEL = "best_val"
    toy_cfg.OPTIM.MAX_EPOCH = 3
    trainer = make_trainer(toy_cfg)
    trainer.train()
    out = capsys.readouterr().out
    assert out.count("Evaluate on the *val* set") == 3 and "Evaluate on the *test* set" in out
    best = torch.load(toy_cfg.OUTPUT_DIR + "/linear/model-best.pth.tar", weights_only=True)
    assert best["val_result"] == pytest.approx(trainer.best_result)
    assert "Deploy the model with the best val performance" in out
    # the deployed weights are model-best's
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, best["state_dict"][k])


def test_interrupted_run_resumes_to_identical_weights(toy_cfg, tmp_path, capsys):
    toy_cfg.OPTIM.MAX_EPOCH = 4
    toy_cfg.TRAIN.CHECKPOINT_FREQ = 1
    straight = make_trainer(toy_cfg)
    straight.train()
    expected, expected_acc = weights(straight), straight.last_results

    toy_cfg.OUTPUT_DIR = str(tmp_path / "interrupted")
    first = make_trainer(toy_cfg)

    def stop_after_epoch_2():
        if first.epoch == 2:
            raise KeyboardInterrupt
    first.before_epoch = stop_after_epoch_2
    with pytest.raises(KeyboardInterrupt):
        first.train()
    capsys.readouterr()

    resumed = make_trainer(toy_cfg, seed=123)  # a different RNG state: the checkpoint's must win
    resumed.train()
    out = capsys.readouterr().out
    assert f"Found checkpoint at {toy_cfg.OUTPUT_DIR} (will resume training)" in out
    assert "epoch [1/4]" not in out and "epoch [3/4]" in out
    for k, v in weights(resumed).items():
        assert torch.equal(v, expected[k]), k
    assert resumed.last_results == expected_acc


def test_load_model_epoch_best_and_latest(toy_cfg, capsys):
    toy_cfg.TRAIN.CHECKPOINT_FREQ = 1
    trainer = make_trainer(toy_cfg)
    trainer.train()
    final = weights(trainer)
    fresh = make_trainer(toy_cfg, seed=5)
    fresh.load_model(toy_cfg.OUTPUT_DIR)  # no model-best: the one named by `checkpoint`
    assert all(torch.equal(v, final[k]) for k, v in weights(fresh).items())
    fresh.load_model(toy_cfg.OUTPUT_DIR, epoch=1)
    assert not all(torch.equal(v, final[k]) for k, v in weights(fresh).items())
    assert 'model.pth.tar-1" (epoch = 1' in capsys.readouterr().out


def test_checkpoint_errors_name_the_file(toy_cfg, tmp_path):
    toy_cfg.OPTIM.MAX_EPOCH = 1
    toy_cfg.TEST.NO_TEST = True
    make_trainer(toy_cfg).train()
    path = tmp_path / "out" / "linear" / "model.pth.tar-1"
    path.write_bytes(b"not a checkpoint")
    trainer = make_trainer(toy_cfg)
    with pytest.raises(CheckpointError, match="model.pth.tar-1"):
        trainer.load_model(toy_cfg.OUTPUT_DIR, epoch=1)
    with pytest.raises(CheckpointError, match="model.pth.tar-1"):
        trainer.train()  # resume reads the corrupt file
    with pytest.raises(CheckpointError, match="model.pth.tar-7"):
        trainer.load_model(toy_cfg.OUTPUT_DIR, epoch=7)
    with pytest.raises(CheckpointError, match="nowhere"):
        trainer.load_model(str(tmp_path / "nowhere"))


def test_unknown_trainer_name_suggests(toy_cfg):
    toy_cfg.TRAINER.NAME = "ToyLinearTrainr"
    with pytest.raises(UnknownNameError, match="ToyLinearTrainer"):
        build_trainer(toy_cfg)


def test_check_cfg_runs_before_anything(toy_cfg):
    from dpl.engine import TRAINER_REGISTRY
    calls = []

    class Refusing(TRAINER_REGISTRY.get("ToyLinearTrainer")):
        def check_cfg(self, cfg):
            calls.append(cfg)
            raise ValueError("refused")

        def build_data_loader(self):
            calls.append("data")

    with pytest.raises(ValueError, match="refused"):
        Refusing(toy_cfg)
    assert calls == [toy_cfg]


def test_resume_from_explicit_dir(toy_cfg, tmp_path, capsys):
    toy_cfg.OPTIM.MAX_EPOCH = 1
    toy_cfg.TEST.NO_TEST = True
    make_trainer(toy_cfg).train()
    done = toy_cfg.OUTPUT_DIR
    toy_cfg.RESUME = done
    toy_cfg.OUTPUT_DIR = str(tmp_path / "elsewhere")
    make_trainer(toy_cfg).train()
    assert f"Found checkpoint at {done} (will resume training)" in capsys.readouterr().out
    toy_cfg.RESUME = str(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="empty"):
        make_trainer(toy_cfg).train()

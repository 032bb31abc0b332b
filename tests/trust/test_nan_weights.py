"""A run whose weights are NaN is a failure, not a result (issue 17, item 7): train.py exits 2 with a message naming
the model and the tensor, and writes no results.json."""

import pytest
import torch

from trust_helpers import coop_args, train_cli


def test_eval_of_a_nan_checkpoint_fails_and_writes_no_results(tmp_path, capsys):
    from dpl.testing.fake_datasets import make_fake_dataset

    root = tmp_path / "data"
    make_fake_dataset("Caltech101", root)
    trained = tmp_path / "trained"
    train_cli(coop_args(root, trained))
    assert (trained / "results.json").is_file()
    files = [p for p in trained.rglob("model.pth.tar-*")]
    assert files, "the training run saved no checkpoint"
    for path in files:  # what a diverged run leaves behind: the learned context is NaN
        checkpoint = torch.load(path, weights_only=True)
        checkpoint["state_dict"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                    for k, v in checkpoint["state_dict"].items()}
        torch.save(checkpoint, path)
    capsys.readouterr()
    evaluated = tmp_path / "eval"
    with pytest.raises(SystemExit) as exit_info:
        train_cli(coop_args(root, evaluated, "--eval-only", "--model-dir", str(trained), "--load-epoch", "1"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "prompt_learner" in err and "results.json" in err
    assert not (evaluated / "results.json").exists()


def test_a_diverging_training_run_fails_with_a_message_naming_the_step_and_writes_no_results(tmp_path, capsys):
    """An absurd learning rate makes the loss NaN/inf after the first step: the user gets one 'Error:' paragraph
    (epoch, iteration, learning rate, what to do) and exit code 2, not a FloatingPointError traceback."""
    from dpl.testing.fake_datasets import make_fake_dataset

    root = tmp_path / "data"
    make_fake_dataset("Caltech101", root)
    out = tmp_path / "diverged"
    argv = coop_args(root, out)
    argv[argv.index("OPTIM.MAX_EPOCH") + 1] = "3"
    argv += ["OPTIM.LR", "1e30", "TRAINER.COOP.PREC", "fp32", "DATALOADER.TRAIN_X.BATCH_SIZE", "2"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_cli(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Error:" in err and "NaN" in err and "epoch" in err and "OPTIM.LR" in err
    assert not (out / "results.json").exists()

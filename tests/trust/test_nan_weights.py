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

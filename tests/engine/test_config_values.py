"""Numeric config values a run cannot work with are refused before anything runs, naming the key; ``OPTIM.MAX_EPOCH
-1`` used to train nothing and write a results.json the scripts counted as a finished run."""
from argparse import Namespace

import pytest

from dpl.runs.config import setup_cfg
from dpl.errors import ConfigError


def cfg_with(stub_trainers, *opts):
    return setup_cfg(Namespace(opts=[str(o) for o in opts], output_dir="", root="", seed=1))


@pytest.mark.parametrize("key, value", [
    ("OPTIM.MAX_EPOCH", -1), ("OPTIM.MAX_EPOCH", 0), ("OPTIM.LR", 0), ("OPTIM.LR", -0.1),
    ("DATASET.NUM_SHOTS", -2), ("DATALOADER.TRAIN_X.BATCH_SIZE", 0), ("DATALOADER.TEST.BATCH_SIZE", -4),
    ("DATALOADER.NUM_WORKERS", -1), ("OPTIM.WEIGHT_DECAY", -1e-4), ("OPTIM.MOMENTUM", 1.5),
    ("TRAIN.CHECKPOINT_KEEP", -1), ("TRAIN.PRINT_FREQ", 0), ("TEST.FINAL_MODEL", "best"),
    ("DATASET.SUBSAMPLE_CLASSES", "half"), ("INPUT.SIZE", "(0, 224)"), ("TRAINER.TOY.N_CTX", -3),
])
def test_a_value_no_run_can_use_is_refused_naming_the_key(stub_trainers, key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        cfg_with(stub_trainers, key, value)
    assert str(value).strip("()").split(",")[0] in str(info.value)


@pytest.mark.parametrize("key, value", [
    ("DATASET.NUM_SHOTS", -1), ("DATASET.NUM_SHOTS", 0), ("OPTIM.WARMUP_EPOCH", -1), ("OPTIM.MAX_EPOCH", 1),
    ("TRAIN.CHECKPOINT_KEEP", 0), ("TRAINER.TOY.N_CTX", 0), ("MODEL.FULL_TEXT_CONTEXT", True),
])
def test_the_edge_values_that_mean_something_are_accepted(stub_trainers, key, value):
    cfg = cfg_with(stub_trainers, key, value)
    node = cfg
    for part in key.split("."):
        node = node[part]
    assert node == value  # accepted and kept as given, not replaced by a default


def test_train_py_refuses_before_writing_anything(stub_trainers, tmp_path, capsys, monkeypatch):
    import sys
    import types
    from pathlib import Path

    monkeypatch.setitem(sys.modules, "datasets", types.ModuleType("datasets"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from train import cli

    with pytest.raises(SystemExit) as exit_info:
        cli(["--output-dir", str(tmp_path / "out"), "OPTIM.MAX_EPOCH", "-1"])
    assert exit_info.value.code == 2
    assert "OPTIM.MAX_EPOCH is -1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, value", [("TRAINER.DPL.SEARCH_INIT", "xavier"), ("TRAINER.DPL.ALPHA_BATCHES", "random"),
                                        ("TRAINER.DPL.KD_REDUCTION", "mean")])
def test_dpl_switches_take_only_their_values(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + f".*{value}.*expected one of"):
        setup_cfg(Namespace(opts=[key, value], output_dir="", root="", seed=1))

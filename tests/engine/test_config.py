"""Config defaults, CoOp's merge order and the errors for bad keys / files / opts."""
from argparse import Namespace

import pytest

from dpl.runs.config import setup_cfg
from dpl.engine.config import get_cfg_default
from dpl.errors import ConfigError


def args(**kw):
    base = dict(root="", output_dir="", resume="", seed=-1, source_domains=None, target_domains=None,
                transforms=None, trainer="", backbone="", head="", config_file="", dataset_config_file="",
                opts=[])
    base.update(kw)
    return Namespace(**base)


def write(path, text):
    path.write_text(text)
    return str(path)


def test_dassl_defaults():
    cfg = get_cfg_default()
    assert cfg.SEED == -1 and cfg.USE_CUDA is True
    assert cfg.INPUT.SIZE == (224, 224) and cfg.INPUT.INTERPOLATION == "bilinear"
    assert cfg.INPUT.PIXEL_MEAN == [0.485, 0.456, 0.406] and cfg.INPUT.PIXEL_STD == [0.229, 0.224, 0.225]
    assert cfg.DATASET.NUM_SHOTS == -1 and cfg.DATALOADER.NUM_WORKERS == 4
    assert cfg.DATALOADER.TRAIN_X.SAMPLER == "RandomSampler" and cfg.DATALOADER.TEST.BATCH_SIZE == 32
    assert (cfg.OPTIM.NAME, cfg.OPTIM.LR, cfg.OPTIM.WEIGHT_DECAY) == ("adam", 0.0003, 5e-4)
    assert cfg.OPTIM.LR_SCHEDULER == "single_step" and cfg.OPTIM.STEPSIZE == (-1,)
    assert cfg.OPTIM.WARMUP_EPOCH == -1 and cfg.OPTIM.WARMUP_RECOUNT is True
    assert cfg.TEST.FINAL_MODEL == "last_step" and cfg.TEST.EVALUATOR == "Classification"
    assert cfg.TRAIN.CHECKPOINT_FREQ == 0 and cfg.TRAIN.PRINT_FREQ == 10


def test_project_keys_and_trainer_nodes(stub_trainers):
    cfg = setup_cfg(args())
    assert cfg.DATASET.SUBSAMPLE_CLASSES == "all" and cfg.MODEL.BACKBONE.PATH == "" and cfg.TRAINER.LAYOUT == ""
    assert cfg.TRAINER.TOY.N_CTX == 4
    assert cfg.MODEL.FULL_TEXT_CONTEXT is False  # text passes stop at the last end-of-text token
    assert cfg.is_frozen()


def test_merge_order(stub_trainers, tmp_path):
    dataset_yaml = write(tmp_path / "ds.yaml", "DATASET:\n  NAME: A\n  ROOT: /from/yaml\n"
                                              "OPTIM:\n  LR: 1.0\n  MAX_EPOCH: 3\nSEED: 7\n")
    trainer_yaml = write(tmp_path / "tr.yaml", "OPTIM:\n  LR: 2.0\nTRAINER:\n  TOY:\n    N_CTX: 8\n")
    cfg = setup_cfg(args(dataset_config_file=dataset_yaml, config_file=trainer_yaml, root="/from/args",
                         trainer="Toy", opts=["TRAINER.TOY.N_CTX", "16", "DATASET.NAME", "B"]))
    assert cfg.OPTIM.LR == 2.0  # trainer yaml after dataset yaml
    assert cfg.OPTIM.MAX_EPOCH == 3  # dataset yaml kept where the trainer yaml is silent
    assert cfg.DATASET.ROOT == "/from/args" and cfg.TRAINER.NAME == "Toy"  # args after both yamls
    assert cfg.TRAINER.TOY.N_CTX == 16 and cfg.DATASET.NAME == "B"  # opts last
    assert cfg.SEED == 7  # --seed -1 does not override
    with pytest.raises(ConfigError, match="if args.seed:"):  # the official train.py ignores --seed 0: refused
        setup_cfg(args(dataset_config_file=dataset_yaml, seed=0))
    assert setup_cfg(args(dataset_config_file=dataset_yaml, seed=1, opts=["SEED", "0"])).SEED == 0  # SEED 0 seeds


def test_unknown_key_in_yaml_names_file_key_and_suggestion(stub_trainers, tmp_path):
    bad = write(tmp_path / "bad.yaml", "OPTIM:\n  LEARNING_RAT: 0.1\n")
    with pytest.raises(ConfigError) as e:
        setup_cfg(args(config_file=bad))
    assert "bad.yaml" in str(e.value) and "OPTIM.LEARNING_RAT" in str(e.value)
    bad = write(tmp_path / "typo.yaml", "OPTIM:\n  MAX_EPOCHS: 5\n")
    with pytest.raises(ConfigError, match="Did you mean OPTIM.MAX_EPOCH"):
        setup_cfg(args(dataset_config_file=bad))


def test_unknown_or_bad_opts(stub_trainers):
    with pytest.raises(ConfigError, match=r"command line.*Did you mean OPTIM\.LR"):
        setup_cfg(args(opts=["OPTIM.lR", "0.1"]))
    with pytest.raises(ConfigError, match="odd number"):
        setup_cfg(args(opts=["OPTIM.LR"]))
    with pytest.raises(ConfigError, match="OPTIM.MAX_EPOCH"):
        setup_cfg(args(opts=["OPTIM.MAX_EPOCH", "'ten'"]))  # wrong type


def test_missing_or_wrong_type_file(stub_trainers, tmp_path):
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        setup_cfg(args(config_file=str(tmp_path / "nowhere.yaml")))
    bad = write(tmp_path / "type.yaml", "OPTIM:\n  MAX_EPOCH: ten\n")
    with pytest.raises(ConfigError, match="type.yaml"):
        setup_cfg(args(config_file=bad))

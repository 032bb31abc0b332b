"""A run's fingerprint: equal for the same run wherever its files live, different (naming the key) for anything that
changes its numbers; ``finished`` and its CLI: skip only on a match, refuse another configuration's outputs."""
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CALTECH = ["--dataset-config-file", str(REPO / "configs/datasets/caltech101.yaml"),
           "--config-file", str(REPO / "configs/trainers/CoOp/vit_b16_ep50.yaml")]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from dpl.testing.fake_datasets import make_fake_dataset

    root = tmp_path_factory.mktemp("identity_data")
    make_fake_dataset("Caltech101", root)
    return root


def train_args(root, out, *opts, backbone="tiny-random"):
    return ["--root", str(root), "--output-dir", str(out), "--seed", "1", "--trainer", "CoOp",
            "--backbone", backbone, *CALTECH, "DATASET.NUM_SHOTS", "2", *map(str, opts)]


def fingerprint(*args, eval_only=False, model_dir="", load_epoch=None):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import build_parser

    from dpl.runs.config import setup_cfg
    from dpl.runs.run_identity import run_fingerprint

    return run_fingerprint(setup_cfg(build_parser().parse_args(list(args))), eval_only, model_dir, load_epoch)


def differing_keys(a, b):
    from dpl.runs.run_identity import differences

    return [k for k, _, _ in differences(a, b)]


def test_where_files_live_and_how_often_to_log_are_not_part_of_it(data_root, tmp_path):
    moved = tmp_path / "moved_root"
    shutil.copytree(data_root, moved)
    a = fingerprint(*train_args(data_root, tmp_path / "a"))
    b = fingerprint(*train_args(moved, tmp_path / "b", "TRAIN.PRINT_FREQ", 3, "TRAIN.CHECKPOINT_KEEP", 0))
    assert a == b
    assert a["config.OPTIM.LR"] == 0.002 and a["backbone.sha256"] == "built-in"
    assert json.loads(json.dumps(a)) == a  # as it reads back from results.json


@pytest.mark.parametrize("opts, key", [
    (["OPTIM.LR", 0.5], "config.OPTIM.LR"),
    (["DATASET.NUM_SHOTS", 4], "config.DATASET.NUM_SHOTS"),
    (["DATASET.FOLDER", "elsewhere"], "config.DATASET.FOLDER"),
    (["OPTIM.MAX_EPOCH", 3], "config.OPTIM.MAX_EPOCH"),
    (["TRAINER.LAYOUT", "uniform:2"], "layout.spec"),
])
def test_every_setting_that_changes_the_numbers_is_named(data_root, tmp_path, opts, key):
    base = fingerprint(*train_args(data_root, tmp_path))
    assert differing_keys(base, fingerprint(*train_args(data_root, tmp_path, *opts))) == [key]


def test_the_seed_the_split_file_the_layout_file_and_the_code_version_are_part_of_it(data_root, tmp_path,
                                                                                      monkeypatch):
    base = fingerprint(*train_args(data_root, tmp_path))
    seeded = train_args(data_root, tmp_path)
    seeded[seeded.index("--seed") + 1] = "7"
    assert differing_keys(base, fingerprint(*seeded)) == ["config.SEED"]

    other_root = tmp_path / "other_root"
    shutil.copytree(data_root, other_root)
    split = other_root / "caltech-101" / "split_zhou_Caltech101.json"
    data = json.loads(split.read_text())
    data["test"] = data["test"][:-1]
    split.write_text(json.dumps(data))
    assert differing_keys(base, fingerprint(*train_args(other_root, tmp_path))) == ["dataset.split_zhou_Caltech101.json"]

    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps({"vision": [1, 0, 0, 0], "text": [1, 0, 0], "max_length": 2}))
    first = fingerprint(*train_args(data_root, tmp_path, "TRAINER.LAYOUT", layout))
    layout.write_text(json.dumps({"vision": [2, 0, 0, 0], "text": [1, 0, 0], "max_length": 2}))
    assert differing_keys(first, fingerprint(*train_args(data_root, tmp_path, "TRAINER.LAYOUT", layout))) == \
        ["layout.sha256"]

    import dpl
    monkeypatch.setattr(dpl, "__version__", "99.0")
    assert differing_keys(base, fingerprint(*train_args(data_root, tmp_path))) == ["code.version"]


def test_the_backbone_file_is_hashed(data_root, tmp_path):
    from dpl.backbones.loading import save_tiny_clip_archive

    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save_tiny_clip_archive(str(a), seed=0, jit=False)
    save_tiny_clip_archive(str(b), seed=1, jit=False)
    fa = fingerprint(*train_args(data_root, tmp_path, "MODEL.BACKBONE.PATH", a, backbone="ViT-B/16"))
    fb = fingerprint(*train_args(data_root, tmp_path, "MODEL.BACKBONE.PATH", b, backbone="ViT-B/16"))
    assert differing_keys(fa, fb) == ["backbone.sha256"]


def test_an_evaluation_is_identified_by_the_weights_it_loads(data_root, tmp_path):
    model = tmp_path / "model" / "prompt_learner"
    model.mkdir(parents=True)
    (model / "model.pth.tar-2").write_bytes(b"weights A")
    args = train_args(data_root, tmp_path / "eval")
    a = fingerprint(*args, eval_only=True, model_dir=str(model.parent), load_epoch=2)
    (model / "model.pth.tar-2").write_bytes(b"weights B")
    b = fingerprint(*args, eval_only=True, model_dir=str(model.parent), load_epoch=2)
    assert differing_keys(a, b) == ["model.prompt_learner/model.pth.tar-2"]
    assert a["run.eval_only"] is True and a["run.load_epoch"] == 2


def test_check_cli_skips_only_on_a_match(data_root, tmp_path, capsys):
    from dpl.runs.run_identity import main

    out = tmp_path / "run"
    args = train_args(data_root, out)
    assert main(["check", *args]) == 1  # nothing there: run it
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"accuracy": 50.0, "fingerprint": fingerprint(*args)}))
    assert main(["check", *args]) == 0  # finished with this configuration: skip
    capsys.readouterr()
    assert main(["check", *args, "OPTIM.LR", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "OPTIM.LR 0.002 there, 0.5 now" in err and str(out) in err
    (out / "results.json").write_text(json.dumps({"accuracy": 50.0}))  # written before fingerprints existed
    assert main(["check", *args]) == 2
    assert "no run fingerprint" in capsys.readouterr().err


def test_every_shipped_config_checkpoints_every_epoch_so_a_killed_run_resumes():
    """TRAIN.CHECKPOINT_FREQ was 0 in every config: a killed 80-epoch search restarted from epoch 0."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import build_parser

    from dpl.runs.config import setup_cfg

    for config in sorted((REPO / "configs" / "trainers").glob("*/*.yaml")):
        cfg = setup_cfg(build_parser().parse_args(["--config-file", str(config)]))
        assert cfg.TRAIN.CHECKPOINT_FREQ == 1 and cfg.TRAIN.CHECKPOINT_KEEP >= 1, config

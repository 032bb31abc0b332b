"""Resume checks the fingerprint of every model's checkpoint (issue 17, item 5): a search folder whose second model
(text alphas / text prompts) comes from another run is refused naming it. A checkpoint without a fingerprint is
refused too, unless train.py gets --accept-unfingerprinted."""
import shutil
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from trainer_harness import FAST, PER_TRAINER  # noqa: E402


def search_args(data_root, out, seed, *extra):
    return ["--root", str(data_root), "--output-dir", str(out), "--seed", str(seed), "--trainer", "DPLSearch",
            "--backbone", "tiny-random", "--dataset-config-file", str(REPO / "configs/datasets/demo.yaml"),
            "--config-file", str(REPO / "configs/trainers/DPL/search.yaml"), *extra,
            *map(str, FAST + PER_TRAINER["DPLSearch"]), "TEST.NO_TEST", "True"]


def train_cli(argv):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import cli

    return cli(argv)


@pytest.fixture(scope="module")
def two_searches(tmp_path_factory):
    """Two finished one-epoch searches that differ only in their seed."""
    tmp = tmp_path_factory.mktemp("searches")
    for seed in (1, 2):
        train_cli(search_args(tmp / "data", tmp / f"seed{seed}", seed))
    return tmp


def unfinished_copy(two_searches, tmp_path):
    """seed 1's folder as a killed run leaves it: every epoch checkpoint there, no layout.json yet."""
    out = tmp_path / "run"
    shutil.copytree(two_searches / "seed1", out)
    for marker in ("layout.json", "results.json"):
        (out / marker).unlink(missing_ok=True)
    models = sorted(p.name for p in out.iterdir() if p.is_dir() and list(p.glob("model.pth.tar-*")))
    assert len(models) >= 2, models
    return out, models


@pytest.mark.parametrize("foreign", [0, 1])
def test_a_model_from_another_run_is_refused_naming_it_whichever_model_it_is(two_searches, tmp_path, capsys,
                                                                              foreign):
    out, models = unfinished_copy(two_searches, tmp_path)
    name = models[foreign]
    shutil.rmtree(out / name)
    shutil.copytree(two_searches / "seed2" / name, out / name)
    with pytest.raises(SystemExit) as exit_info:
        train_cli(search_args(two_searches / "data", out, 1))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{name}/model.pth.tar-1" in err and "another configuration" in err and "SEED" in err
    assert not (out / "layout.json").exists()


def strip_fingerprints(out):
    for path in out.rglob("model.pth.tar-*"):
        checkpoint = torch.load(path, weights_only=True)
        checkpoint.pop("fingerprint", None)
        torch.save(checkpoint, path)


def test_a_checkpoint_without_fingerprint_is_refused_unless_accepted(two_searches, tmp_path, capsys):
    out, _ = unfinished_copy(two_searches, tmp_path)
    strip_fingerprints(out)
    with pytest.raises(SystemExit) as exit_info:
        train_cli(search_args(two_searches / "data", out, 1))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no run fingerprint" in err and "--accept-unfingerprinted" in err
    assert not (out / "layout.json").exists()

    train_cli(search_args(two_searches / "data", out, 1, "--accept-unfingerprinted"))
    captured = capsys.readouterr()
    assert "no run fingerprint" in captured.out + captured.err
    assert (out / "layout.json").is_file()

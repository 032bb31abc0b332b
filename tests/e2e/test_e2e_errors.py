"""Every bad input exits non-zero with one paragraph naming the culprit, and leaves earlier outputs intact."""
import shutil

import pytest

from e2e_helpers import FAST_OPTS, demo_args, run_train

CALTECH_CFG = "configs/datasets/caltech101.yaml"


def fails(*args):
    proc = run_train(*args, check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()
    assert message and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def caltech_args(root, out):
    return ["--root", root, "--seed", 1, "--trainer", "CoOp", "--backbone", "tiny-random",
            "--dataset-config-file", CALTECH_CFG, "--config-file", "configs/trainers/CoOp/vit_b16_ep50.yaml",
            "--output-dir", out, *FAST_OPTS]


@pytest.fixture
def caltech_root(tmp_path):
    from dpl.testing.fake_datasets import make_fake_dataset
    root = tmp_path / "data"
    make_fake_dataset("Caltech101", root)
    return root


def test_missing_data_root(tmp_path):
    err = fails(*caltech_args(tmp_path / "nowhere", tmp_path / "out"))
    assert "nowhere" in err and "Caltech101" in err


def test_missing_split_file(caltech_root, tmp_path):
    (caltech_root / "caltech-101" / "split_zhou_Caltech101.json").unlink()
    err = fails(*caltech_args(caltech_root, tmp_path / "out"))
    assert "split_zhou_Caltech101.json" in err and "DATASETS.md" in err


def test_listed_image_missing(caltech_root, tmp_path):
    images = sorted((caltech_root / "caltech-101" / "101_ObjectCategories").rglob("*.jpg"))
    images[0].unlink()
    err = fails(*caltech_args(caltech_root, tmp_path / "out"), "DATASET.NUM_SHOTS", "-1")
    assert images[0].name in err


def test_unreadable_image(caltech_root, tmp_path):
    images = sorted((caltech_root / "caltech-101" / "101_ObjectCategories").rglob("*.jpg"))
    for image in images:  # every image broken, so whichever is read first is named
        image.write_bytes(b"not an image")
    err = fails(*caltech_args(caltech_root, tmp_path / "out"))
    assert ".jpg" in err and "caltech-101" in err


def test_unknown_config_key(data_root, tmp_path):
    err = fails(*demo_args(data_root, tmp_path / "out"), *FAST_OPTS, "OPTIM.LEARNING_RATE", "0.1")
    assert "OPTIM.LEARNING_RATE" in err


def test_unknown_trainer_with_did_you_mean(data_root, tmp_path):
    err = fails(*demo_args(data_root, tmp_path / "out", trainer="Coop"), *FAST_OPTS)
    assert "Coop" in err and "CoOp" in err


def test_unknown_dataset_with_did_you_mean(data_root, tmp_path):
    err = fails(*demo_args(data_root, tmp_path / "out"), *FAST_OPTS, "DATASET.NAME", "Caltech10")
    assert "Caltech10" in err and "Caltech101" in err


def test_unknown_backbone(data_root, tmp_path):
    err = fails(*demo_args(data_root, tmp_path / "out"), *FAST_OPTS, "MODEL.BACKBONE.NAME", "ViT-B/61")
    assert "ViT-B/61" in err and "ViT-B/16" in err


def test_corrupt_checkpoint_on_resume_keeps_earlier_outputs(data_root, tmp_path):
    out = tmp_path / "run"
    run_train(*demo_args(data_root, out), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1")
    (out / "results.json").unlink()  # killed during its final test: the rerun resumes
    ckpt = out / "prompt_learner" / "model.pth.tar-1"
    ckpt.write_bytes(b"garbage")  # and its only checkpoint is unreadable: nothing older to fall back to
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    err = fails(*demo_args(data_root, out), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1")
    assert "model.pth.tar-1" in err
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} changed"


def test_a_resume_or_rerun_with_changed_hyper_parameters_is_refused(data_root, tmp_path):
    """Checkpoints and results of one configuration are never continued or overwritten by another."""
    out = tmp_path / "run"
    run_train(*demo_args(data_root, out), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1")
    results = (out / "results.json").read_bytes()
    (out / "results.json").unlink()  # as a run killed during its final test leaves it
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    changed = [*demo_args(data_root, out, seed=7), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1", "OPTIM.LR", "0.5"]
    err = fails(*changed)
    assert "SEED 1 there, 7 now" in err and "OPTIM.LR 0.002 there, 0.5 now" in err and "model.pth.tar-1" in err
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} changed"
    (out / "results.json").write_bytes(results)  # the finished run
    err = fails(*changed)
    assert "finished run of another configuration" in err and "OPTIM.LR" in err
    assert (out / "results.json").read_bytes() == results

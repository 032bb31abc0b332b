"""Every bad input exits non-zero with one paragraph naming the culprit, and leaves earlier outputs intact."""
import shutil

import pytest

from e2e_helpers import FAST_OPTS, demo_args, run_train, run_train_many

CALTECH_CFG = "configs/datasets/caltech101.yaml"


def fails(*args):
    proc = run_train(*args, check=False)
    return _refused(proc.returncode, proc.stdout, proc.stderr)


def _refused(code, stdout, stderr):
    """A refusal as users see it: exit status 2 and one ``Error:`` paragraph on stderr, never a traceback."""
    assert code == 2, stdout[-2000:] + stderr[-2000:]
    message = stderr.strip().splitlines()
    assert message and "Traceback" not in stderr, stderr
    return stderr


def caltech_args(root, out):
    return ["--root", root, "--seed", 1, "--trainer", "CoOp", "--backbone", "tiny-random",
            "--dataset-config-file", CALTECH_CFG, "--config-file", "configs/trainers/CoOp/vit_b16_ep50.yaml",
            "--output-dir", out, *FAST_OPTS]


def _caltech_root(folder):
    from dpl.testing.fake_datasets import make_fake_dataset

    make_fake_dataset("Caltech101", folder)
    return folder


def _caltech_images(root):
    return sorted((root / "caltech-101" / "101_ObjectCategories").rglob("*.jpg"))


@pytest.fixture(scope="module")
def bad_inputs(data_root, tmp_path_factory):
    """The refusals that need no earlier run, each on its own data or options, run in one train_many.py process (one
    start-up for all: each is refused within its first second of work): name -> (exit status, stderr, detail)."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    no_split = _caltech_root(tmp / "no_split")
    (no_split / "caltech-101" / "split_zhou_Caltech101.json").unlink()
    image_missing = _caltech_root(tmp / "image_missing")
    missing = _caltech_images(image_missing)[0]
    missing.unlink()
    unreadable = _caltech_root(tmp / "unreadable")
    for image in _caltech_images(unreadable):  # every image broken, so whichever is read first is named
        image.write_bytes(b"not an image")

    def demo(name, trainer="CoOp"):  # each case writes into a folder of its own, as the one-process-each tests did
        return [*demo_args(data_root, tmp / name, trainer=trainer), *FAST_OPTS]

    cases = {
        "missing_data_root": (caltech_args(tmp / "nowhere", tmp / "missing_data_root"), None),
        "missing_split_file": (caltech_args(no_split, tmp / "missing_split_file"), None),
        "listed_image_missing": (
            [*caltech_args(image_missing, tmp / "listed_image_missing"), "DATASET.NUM_SHOTS", "-1"], missing.name),
        "unreadable_image": (caltech_args(unreadable, tmp / "unreadable_image"), None),
        "unknown_config_key": ([*demo("unknown_config_key"), "OPTIM.LEARNING_RATE", "0.1"], None),
        "unknown_trainer": (demo("unknown_trainer", trainer="Coop"), None),
        "unknown_dataset": ([*demo("unknown_dataset"), "DATASET.NAME", "Caltech10"], None),
        "unknown_backbone": ([*demo("unknown_backbone"), "MODEL.BACKBONE.NAME", "ViT-B/61"], None),
    }
    codes, stderrs, proc = run_train_many([argv for argv, _ in cases.values()], tmp / "runs", stderr=True)
    return {name: (code, err, detail, proc.stdout)
            for (name, (_, detail)), code, err in zip(cases.items(), codes, stderrs)}


def refused(bad_inputs, name):
    code, stderr, detail, stdout = bad_inputs[name]
    return _refused(code, stdout, stderr), detail


def test_missing_data_root(bad_inputs):
    err, _ = refused(bad_inputs, "missing_data_root")
    assert "nowhere" in err and "Caltech101" in err


def test_missing_split_file(bad_inputs):
    err, _ = refused(bad_inputs, "missing_split_file")
    assert "split_zhou_Caltech101.json" in err and "DATASETS.md" in err


def test_listed_image_missing(bad_inputs):
    err, missing = refused(bad_inputs, "listed_image_missing")
    assert missing in err


def test_unreadable_image(bad_inputs):
    err, _ = refused(bad_inputs, "unreadable_image")
    assert ".jpg" in err and "caltech-101" in err


def test_unknown_config_key(bad_inputs):
    err, _ = refused(bad_inputs, "unknown_config_key")
    assert "OPTIM.LEARNING_RATE" in err


def test_unknown_trainer_with_did_you_mean(bad_inputs):
    err, _ = refused(bad_inputs, "unknown_trainer")
    assert "Coop" in err and "CoOp" in err


def test_unknown_dataset_with_did_you_mean(bad_inputs):
    err, _ = refused(bad_inputs, "unknown_dataset")
    assert "Caltech10" in err and "Caltech101" in err


def test_unknown_backbone(bad_inputs):
    err, _ = refused(bad_inputs, "unknown_backbone")
    assert "ViT-B/61" in err and "ViT-B/16" in err


@pytest.fixture(scope="module")
def one_epoch_run(data_root, tmp_path_factory):
    """A finished one-epoch CoOp run; each test below works on a copy (the output folder is not part of a run's
    configuration, so a copy resumes and is refused as the original would be)."""
    out = tmp_path_factory.mktemp("one_epoch") / "run"
    run_train(*demo_args(data_root, out), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1")
    return out


def test_corrupt_checkpoint_on_resume_keeps_earlier_outputs(one_epoch_run, data_root, tmp_path):
    out = shutil.copytree(one_epoch_run, tmp_path / "run")
    (out / "results.json").unlink()  # killed during its final test: the rerun resumes
    ckpt = out / "prompt_learner" / "model.pth.tar-1"
    ckpt.write_bytes(b"garbage")  # and its only checkpoint is unreadable: nothing older to fall back to
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    err = fails(*demo_args(data_root, out), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1")
    assert "model.pth.tar-1" in err
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} changed"


def test_a_resume_or_rerun_with_changed_hyper_parameters_is_refused(one_epoch_run, data_root, tmp_path):
    """Checkpoints and results of one configuration are never continued or overwritten by another."""
    out = shutil.copytree(one_epoch_run, tmp_path / "run")
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

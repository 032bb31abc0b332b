"""A hand-edited or damaged checkpoint pickle gets one error naming the file and what is wrong (issue 17, item 9),
not advice to trust it (it holds no foreign code, it is broken) nor a traceback from inside torch."""
import zipfile

import pytest

from trust_helpers import coop_args, train_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dpl.testing.fake_datasets import make_fake_dataset

    tmp = tmp_path_factory.mktemp("malformed")
    make_fake_dataset("Caltech101", tmp / "data")
    train_cli(coop_args(tmp / "data", tmp / "trained"))
    return tmp


def edit_pickle(path):
    """What a hand edit or a bad copy does: bytes of the checkpoint's data.pkl replaced by zeros."""
    with zipfile.ZipFile(path) as src:
        items = [(item, src.read(item.filename)) for item in src.infolist()]
    with zipfile.ZipFile(path, "w") as dst:
        for item, data in items:
            if item.filename.endswith("/data.pkl"):
                data = data[:-5] + bytes(4) + b"."
            dst.writestr(item, data)


@pytest.mark.parametrize("trust", [False, True])
def test_an_edited_checkpoint_pickle_is_named_as_damaged(trained, tmp_path, capsys, trust):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(trained / "trained", model_dir)
    checkpoint = next(model_dir.rglob("model.pth.tar-1"))
    edit_pickle(checkpoint)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_cli(coop_args(trained / "data", tmp_path / "eval", "--eval-only", "--model-dir", str(model_dir),
                            "--load-epoch", "1", *(["--trust-checkpoint"] if trust else [])))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(checkpoint) in err and "damaged" in err and "not a valid pickle" in err
    assert "pass --trust-checkpoint" not in err

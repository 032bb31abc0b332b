"""dpl.check_data: exit 0 on a good root, 1 on each broken one, with the problem named."""
import os

import pytest

from dpl.check_data import main
from dpl.testing import make_fake_dataset


@pytest.fixture
def root(tmp_path):
    for name in ("ImageNet", "Caltech101", "FGVCAircraft", "ImageNetA"):
        make_fake_dataset(name, tmp_path, n_classes=2, per_split=(2, 1, 1))
    return tmp_path


def test_good_root(root, capsys):
    assert main(["--root", str(root)]) == 0
    out = capsys.readouterr().out
    for name in ("ImageNet", "Caltech101", "FGVCAircraft", "ImageNetA"):
        assert name in out
    assert "Demo" not in out  # only datasets found under the root
    assert main(["--root", str(root), "caltech101", "ImageNet"]) == 0  # stems and registry names


def test_flat_imagenet_val(root, capsys):
    val = root / "imagenet" / "images" / "val"
    os.rename(val / "n01440764" / "ILSVRC2012_val_00000000.JPEG", val / "ILSVRC2012_val_00000000.JPEG")
    assert main(["--root", str(root), "imagenet"]) == 1
    assert "extracted flat" in capsys.readouterr().out


def test_missing_classnames(root, capsys):
    os.remove(root / "imagenet" / "classnames.txt")
    assert main(["--root", str(root), "ImageNet"]) == 1
    assert "classnames.txt" in capsys.readouterr().out


def test_unreadable_image(root, capsys):
    bad = root / "caltech-101" / "101_ObjectCategories" / "object_1" / "image_train0000.jpg"
    bad.write_bytes(b"not an image")
    assert main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "unreadable" in out and str(bad) in out


def test_missing_image_and_split_file(root, capsys):
    os.remove(root / "fgvc_aircraft" / "images_variant_test.txt")
    os.remove(root / "caltech-101" / "101_ObjectCategories" / "object_0" / "image_test0000.jpg")
    assert main(["--root", str(root), "Caltech101", "FGVCAircraft"]) == 1
    out = capsys.readouterr().out
    assert "images_variant_test.txt" in out and "image_test0000.jpg" in out and "1/2" in out


def test_unknown_name_and_empty_root(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "caltec"]) == 2
    assert "Caltech101" in capsys.readouterr().out
    assert main(["--root", str(tmp_path)]) == 1


def test_a_root_without_known_datasets_explains_folder(tmp_path, capsys):
    (tmp_path / "my_photos" / "cats").mkdir(parents=True)
    assert main(["--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "--folder" in out and "DATASET.FOLDER" in out


def test_root_defaults_to_data_in_the_working_folder(tmp_path, monkeypatch, capsys):
    """As the scripts' DATA and the sweep's --data: ./data when --root is not given (issue 21 item 6)."""
    make_fake_dataset("Caltech101", tmp_path / "data", n_classes=2, per_split=(2, 1, 1))
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    assert f"Data root: {tmp_path / 'data'}" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "data")  # no ./data here: says what it looked for and how to give another
    assert main([]) == 1
    out = capsys.readouterr().out
    assert f"Data root not found: {tmp_path / 'data' / 'data'}" in out and "--root" in out

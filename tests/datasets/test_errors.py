"""Missing folders, split files and images: DataErrors naming the path, the dataset and its section."""
import os

import pytest

from dpl.errors import DataError
from dpl.testing import make_fake_dataset

from ds_helpers import build


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DataError) as e:
        build(tmp_path, "Caltech101")
    msg = str(e.value)
    assert str(tmp_path / "caltech-101") in msg and "see DATASETS.md, section Caltech101" in msg


def test_missing_split_file(tmp_path):
    make_fake_dataset("OxfordFlowers", tmp_path, n_classes=2, per_split=1)
    os.remove(tmp_path / "oxford_flowers" / "split_zhou_OxfordFlowers.json")
    with pytest.raises(DataError, match="section OxfordFlowers") as e:
        build(tmp_path, "OxfordFlowers")
    assert "split_zhou_OxfordFlowers.json" in str(e.value)


def test_missing_image(tmp_path):
    make_fake_dataset("Food101", tmp_path, n_classes=2, per_split=1)
    victim = tmp_path / "food-101" / "images" / "dish_1" / "test0.jpg"
    os.remove(victim)
    with pytest.raises(DataError, match="1 of 2 test images are missing") as e:
        build(tmp_path, "Food101")
    assert str(victim) in str(e.value) and "section Food101" in str(e.value)


def test_malformed_split_file(tmp_path):
    make_fake_dataset("SUN397", tmp_path, n_classes=2, per_split=1)
    (tmp_path / "sun397" / "split_zhou_SUN397.json").write_text('{"train": []}')
    with pytest.raises(DataError, match="keys"):
        build(tmp_path, "SUN397")


def test_fgvc_missing_list(tmp_path):
    make_fake_dataset("FGVCAircraft", tmp_path, n_classes=2, per_split=1)
    os.remove(tmp_path / "fgvc_aircraft" / "images_variant_val.txt")
    with pytest.raises(DataError, match="images_variant_val.txt.*section FGVCAircraft"):
        build(tmp_path, "FGVCAircraft")


def test_imagenet_flat_val(tmp_path):
    make_fake_dataset("ImageNet", tmp_path, n_classes=2, per_split=(1, 0, 1))
    os.rename(tmp_path / "imagenet/images/val/n01440764/ILSVRC2012_val_00000000.JPEG",
              tmp_path / "imagenet/images/val/ILSVRC2012_val_00000000.JPEG")
    with pytest.raises(DataError, match="extracted flat.*section ImageNet"):
        build(tmp_path, "ImageNet")


def test_unknown_subsample_value(tmp_path):
    make_fake_dataset("UCF101", tmp_path, n_classes=2, per_split=1)
    with pytest.raises(DataError, match="SUBSAMPLE_CLASSES"):
        build(tmp_path, "UCF101", subsample="half")

"""Every reader on its generated real layout: class count, split sizes, labels, class names."""
import os

import pytest

from dpl.engine.data.datasets import DATASET_REGISTRY
from dpl.testing import FAKE_DATASET_NAMES, make_fake_dataset

from ds_helpers import build

N_CLASSES, PER_SPLIT = 3, (4, 2, 3)
TEST_ONLY = {"ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR"}


def test_every_registry_name_has_a_fake_layout():
    # Only the project's readers: other test folders register toy datasets in the same registry.
    shipped = {n for n in DATASET_REGISTRY.registered_names()
               if DATASET_REGISTRY.get(n).__module__.startswith("datasets.")}
    assert set(FAKE_DATASET_NAMES) == shipped


@pytest.mark.parametrize("name", [n for n in FAKE_DATASET_NAMES if n != "Demo"])
def test_reader_on_generated_layout(tmp_path, name):
    make_fake_dataset(name, tmp_path, n_classes=N_CLASSES, per_split=PER_SPLIT)
    ds = build(tmp_path, name, folder="custom")
    assert ds.num_classes == N_CLASSES
    assert len(ds.classnames) == N_CLASSES
    for split in ("train_x", "val", "test"):
        items = getattr(ds, split)
        if items is None:
            continue
        assert sorted({i.label for i in items}) == list(range(N_CLASSES))
        assert all(os.path.isfile(i.impath) for i in items)
        assert all(ds.lab2cname[i.label] == i.classname for i in items)
    if name in TEST_ONLY:
        assert len(ds.test) == N_CLASSES * PER_SPLIT[2] and ds.train_x == ds.test
    elif name == "ImageNet":  # CoOp: val is the test set
        assert len(ds.train_x) == N_CLASSES * PER_SPLIT[0]
        assert ds.val == ds.test and len(ds.test) == N_CLASSES * PER_SPLIT[2]
    elif name == "CustomFolder":  # 9 images per class -> 50/20/30 rule gives 4/2/3
        assert (len(ds.train_x), len(ds.val), len(ds.test)) == tuple(N_CLASSES * k for k in (4, 2, 3))
    else:
        assert (len(ds.train_x), len(ds.val), len(ds.test)) == tuple(N_CLASSES * k for k in PER_SPLIT)


def test_eurosat_classnames_are_coop_phrases(tmp_path):
    make_fake_dataset("EuroSAT", tmp_path, n_classes=10, per_split=(1, 1, 1))
    ds = build(tmp_path, "EuroSAT")
    assert ds.classnames[0] == "Annual Crop Land"
    assert "Herbaceous Vegetation Land" in ds.classnames and "Sea or Lake" in ds.classnames


def test_eurosat_split_with_folder_names_is_mapped(tmp_path):
    from dpl.engine.utils.io import read_json, write_json

    make_fake_dataset("EuroSAT", tmp_path, n_classes=2, per_split=(1, 1, 1))
    path = tmp_path / "eurosat" / "split_zhou_EuroSAT.json"
    data = read_json(path)
    for split in data.values():
        for entry in split:
            entry[2] = entry[0].split("/")[0]  # raw folder name, e.g. AnnualCrop
    write_json(data, path)
    assert build(tmp_path, "EuroSAT").classnames == ["Annual Crop Land", "Forest"]


def test_imagenet_classnames_and_labels_follow_sorted_wnids(tmp_path):
    make_fake_dataset("ImageNet", tmp_path, n_classes=3, per_split=(2, 0, 1))
    ds = build(tmp_path, "ImageNet")
    assert ds.classnames == ["tench", "goldfish", "great white shark"]
    assert {os.path.basename(os.path.dirname(i.impath)) for i in ds.test if i.label == 1} == {"n01443537"}


def test_imagenet_missing_classnames_falls_back_to_shipped_list(tmp_path):
    make_fake_dataset("ImageNet", tmp_path, n_classes=2, per_split=(1, 0, 1))
    os.remove(tmp_path / "imagenet" / "classnames.txt")
    with pytest.warns(UserWarning, match="classnames.txt"):
        ds = build(tmp_path, "ImageNet")
    assert ds.classnames == ["tench", "goldfish"]


def test_imagenet_variants_use_imagenet_classnames_when_own_missing(tmp_path):
    make_fake_dataset("ImageNet", tmp_path, n_classes=2, per_split=(1, 0, 1))
    make_fake_dataset("ImageNetA", tmp_path, n_classes=2, per_split=(0, 0, 2))
    os.remove(tmp_path / "imagenet-adversarial" / "classnames.txt")
    with open(tmp_path / "imagenet" / "classnames.txt", "w") as f:  # recognisably ImageNet's own file
        f.write("n01440764 fish one\nn01443537 fish two\n")
    assert build(tmp_path, "ImageNetA").classnames == ["fish one", "fish two"]


def test_shipped_imagenet_classnames_file():
    from datasets.imagenet import read_classnames, shipped_classnames_path

    names = read_classnames(shipped_classnames_path())
    wnids = list(names)
    assert len(wnids) == 1000 and len(set(wnids)) == 1000 and wnids == sorted(wnids)
    assert all(w.startswith("n") and len(w) == 9 for w in wnids)
    assert names["n01440764"] == "tench" and names["n15075141"] == "toilet paper"


def test_fgvc_reads_official_files(tmp_path):
    make_fake_dataset("FGVCAircraft", tmp_path, n_classes=3, per_split=(2, 1, 1))
    ds = build(tmp_path, "FGVCAircraft")
    with open(tmp_path / "fgvc_aircraft" / "variants.txt") as f:
        assert ds.classnames == [line.strip() for line in f]
    assert all(i.impath.startswith(str(tmp_path / "fgvc_aircraft" / "images")) for i in ds.test)

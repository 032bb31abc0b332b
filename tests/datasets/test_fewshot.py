"""Few-shot selection equals Dassl's rule, is cached as JSON triples, reused, and rebuilt when stale;
base/new class split."""
import json
import os
import random

import pytest

from dpl.testing import make_fake_dataset

from ds_helpers import build

SEED, K = 3, 2


def dassl_rule(items, k):
    """Dassl: group by label in first-seen order, then random.sample(items, k) per label (all if fewer)."""
    groups = {}
    for item in items:
        groups.setdefault(item.label, []).append(item)
    out = []
    for group in groups.values():
        out.extend(random.sample(group, k) if len(group) >= k else group)
    return out


@pytest.fixture
def caltech(tmp_path):
    make_fake_dataset("Caltech101", tmp_path, n_classes=4, per_split=(6, 5, 2))
    return tmp_path


def test_fewshot_equals_dassl_rule(caltech):
    full = build(caltech, "Caltech101")
    random.seed(SEED)
    expected_train = dassl_rule(full.train_x, K)
    expected_val = dassl_rule(full.val, min(K, 4))
    ds = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    assert [i.impath for i in ds.train_x] == [i.impath for i in expected_train]
    assert [i.impath for i in ds.val] == [i.impath for i in expected_val]
    assert len(ds.train_x) == 4 * K and ds.test == full.test


def test_fewshot_cache_is_json_triples_and_reused(caltech):
    ds = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    image_dir = caltech / "caltech-101" / "101_ObjectCategories"
    path = caltech / "caltech-101" / "split_fewshot" / f"shot_{K}-seed_{SEED}.json"
    with open(path) as f:
        data = json.load(f)
    assert data["train"] == [[os.path.relpath(i.impath, image_dir), i.label, i.classname] for i in ds.train_x]
    # a cache naming other images of the dataset, K of each class, is taken as is: proof it is read, not resampled
    full = build(caltech, "Caltech101")
    unused = [i for i in full.train_x if i.impath not in {d.impath for d in ds.train_x}]
    other = [i for label in range(4) for i in [u for u in unused if u.label == label][:K]]
    data["train"] = [[os.path.relpath(i.impath, image_dir), i.label, i.classname] for i in other]
    with open(path, "w") as f:
        json.dump(data, f)
    again = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    assert [i.impath for i in again.train_x] == [i.impath for i in other]


def test_stale_cache_is_rebuilt_with_warning(caltech):
    first = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    path = caltech / "caltech-101" / "split_fewshot" / f"shot_{K}-seed_{SEED}.json"
    with open(path) as f:
        data = json.load(f)
    data["train"][0] = ["object_0/not_there.jpg", 0, "object 0"]
    data["val"][0][2] = "unknown class"
    with open(path, "w") as f:
        json.dump(data, f)
    with pytest.warns(UserWarning, match="few-shot cache"):
        rebuilt = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    assert [i.impath for i in rebuilt.train_x] == [i.impath for i in first.train_x]
    with open(path) as f:
        assert "not_there" not in f.read()


@pytest.mark.parametrize("subsample, labels", [("base", [0, 1, 2]), ("new", [3, 4])])
def test_base_new_split(tmp_path, subsample, labels):
    make_fake_dataset("OxfordPets", tmp_path, n_classes=5, per_split=(2, 1, 1))
    full = build(tmp_path, "OxfordPets")
    ds = build(tmp_path, "OxfordPets", subsample=subsample)
    assert ds.classnames == [full.classnames[y] for y in labels]
    assert ds.num_classes == len(labels)
    for split in ("train_x", "val", "test"):
        assert sorted({i.label for i in getattr(ds, split)}) == list(range(len(labels)))
        assert {i.classname for i in getattr(ds, split)} == set(ds.classnames)


def test_base_new_with_fewshot(tmp_path):
    make_fake_dataset("DescribableTextures", tmp_path, n_classes=4, per_split=(5, 3, 2))
    ds = build(tmp_path, "DescribableTextures", num_shots=2, seed=1, subsample="new")
    assert ds.num_classes == 2 and len(ds.train_x) == 4 and len(ds.test) == 4


def test_imagenet_fewshot_samples_train_only(tmp_path):
    make_fake_dataset("ImageNet", tmp_path, n_classes=3, per_split=(5, 0, 2))
    ds = build(tmp_path, "ImageNet", num_shots=2, seed=1)
    assert len(ds.train_x) == 6 and len(ds.test) == 6 and ds.val == ds.test
    assert os.path.isfile(tmp_path / "imagenet" / "split_fewshot" / "shot_2-seed_1.json")

"""Inputs that used to be trusted as they were: a few-shot cache that breaks the rule that made it (a class
missing, too few or too many images, a label out of range, empty lists) is rebuilt with a warning; a split file
whose labels exceed its class count, or whose paths leave the dataset folder, is refused naming the file."""
import json
import os

import pytest

from dpl.errors import DataError
from dpl.testing import make_fake_dataset

from ds_helpers import build

SEED, K, CLASSES = 3, 2, 4


@pytest.fixture
def caltech(tmp_path):
    make_fake_dataset("Caltech101", tmp_path, n_classes=CLASSES, per_split=(6, 5, 2))
    return tmp_path


def cache_path(root):
    return root / "caltech-101" / "split_fewshot" / f"shot_{K}-seed_{SEED}.json"


def drop_class(data):
    return {**data, "train": [t for t in data["train"] if t[1] != 1]}


def five_entries(data):
    return {**data, "train": data["train"][:5]}


def three_times_k(data):
    triples = data["train"] * 3  # K per class three times over
    return {**data, "train": triples}


def label_out_of_range(data):
    return {**data, "train": data["train"] + [[data["train"][0][0], CLASSES + 1, data["train"][0][2]]]}


def empty_lists(data):
    return {"train": [], "val": []}


@pytest.mark.parametrize("corrupt", [drop_class, five_entries, three_times_k, label_out_of_range, empty_lists])
def test_a_cache_that_breaks_the_few_shot_rule_is_rebuilt(caltech, corrupt):
    first = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    path = cache_path(caltech)
    path.write_text(json.dumps(corrupt(json.loads(path.read_text()))))
    with pytest.warns(UserWarning, match="few-shot cache"):
        rebuilt = build(caltech, "Caltech101", num_shots=K, seed=SEED)
    assert [i.impath for i in rebuilt.train_x] == [i.impath for i in first.train_x]
    assert [i.impath for i in rebuilt.val] == [i.impath for i in first.val]
    assert rebuilt.num_classes == CLASSES
    assert json.loads(path.read_text())["train"] == json.loads(json.dumps(  # the file is repaired too
        [[os.path.relpath(i.impath, caltech / "caltech-101" / "101_ObjectCategories"), i.label, i.classname]
         for i in first.train_x]))


def split_file(root):
    return root / "caltech-101" / "split_zhou_Caltech101.json"


def test_a_split_file_whose_labels_exceed_its_class_count_is_refused(caltech):
    data = json.loads(split_file(caltech).read_text())
    relpath, _, classname = data["test"][0]
    data["test"][0] = [relpath, 7, classname]  # 4 classes; label 7 would make a model of 8
    split_file(caltech).write_text(json.dumps(data))
    with pytest.raises(DataError, match="split_zhou_Caltech101.json.*label 7"):
        build(caltech, "Caltech101")


@pytest.mark.parametrize("escape", ["../../outside/x.jpg", "/etc/passwd"])
def test_split_paths_that_leave_the_dataset_folder_are_refused(caltech, escape):
    data = json.loads(split_file(caltech).read_text())
    data["train"][0][0] = escape
    split_file(caltech).write_text(json.dumps(data))
    with pytest.raises(DataError, match="split_zhou_Caltech101.json") as info:
        build(caltech, "Caltech101")
    assert escape in str(info.value)


def test_more_shots_than_a_class_has_is_a_warning_with_the_real_count(caltech, capsys):
    ds = build(caltech, "Caltech101", num_shots=10, seed=SEED)  # 6 training images per class
    out = capsys.readouterr().out
    assert "WARNING: DATASET.NUM_SHOTS is 10" in out and "6 images per class" in out
    assert len(ds.train_x) == CLASSES * 6
    build(caltech, "Caltech101", num_shots=10, seed=SEED)  # from the cache: said again
    assert "WARNING: DATASET.NUM_SHOTS is 10" in capsys.readouterr().out

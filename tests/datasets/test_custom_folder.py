"""CustomFolder: class sub-folders (fixed 50/20/30 split) or a split.json; nothing written into the folder."""
import json
import os

import pytest

from dpl.errors import ConfigError, DataError
from dpl.testing import make_fake_dataset, write_image

from ds_helpers import build


def _tree(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)


def test_class_folders(tmp_path):
    folder = make_fake_dataset("CustomFolder", tmp_path, n_classes=3, per_split=(5, 2, 3))  # 10 per class
    before = _tree(folder)
    ds = build(tmp_path, "CustomFolder", folder="custom")
    assert ds.classnames == ["my class 0", "my class 1", "my class 2"]
    assert (len(ds.train_x), len(ds.val), len(ds.test)) == (15, 6, 9)
    assert not {i.impath for i in ds.train_x} & {i.impath for i in ds.test}
    again = build(tmp_path, "CustomFolder", folder=str(folder))  # absolute path, same split
    assert [i.impath for i in again.test] == [i.impath for i in ds.test]
    fewshot = build(tmp_path, "CustomFolder", folder="custom", num_shots=2, seed=1)
    assert len(fewshot.train_x) == 6
    assert _tree(folder) == before


def test_split_counts_and_determinism(tmp_path):
    from datasets.folder import split_counts

    assert split_counts(10) == (5, 2, 3) and split_counts(3) == (1, 1, 1)
    folder = make_fake_dataset("CustomFolder", tmp_path, n_classes=1, per_split=(5, 2, 3))
    a = build(tmp_path, "CustomFolder", folder="custom")
    os.utime(os.path.join(folder, "my_class_0", "img_000.png"))  # mtimes do not matter
    b = build(tmp_path, "CustomFolder", folder="custom")
    assert [i.impath for i in a.train_x] == [i.impath for i in b.train_x]


def test_split_json(tmp_path):
    folder = tmp_path / "mine"
    entries = {}
    for split, n in (("train", 2), ("val", 1), ("test", 1)):
        entries[split] = []
        for c, name in enumerate(["cat", "dog"]):
            for i in range(n):
                rel = f"pics/{name}_{split}_{i}.jpg"
                write_image(str(folder / rel), c)
                entries[split].append([rel, c, name])
    (folder / "split.json").write_text(json.dumps(entries))
    ds = build(tmp_path, "CustomFolder", folder="mine")
    assert ds.classnames == ["cat", "dog"] and (len(ds.train_x), len(ds.val), len(ds.test)) == (4, 2, 2)


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="DATASET.FOLDER"):
        build(tmp_path, "CustomFolder", folder="")
    with pytest.raises(DataError, match="section CustomFolder"):
        build(tmp_path, "CustomFolder", folder="nowhere")
    for i in range(2):
        write_image(str(tmp_path / "small" / "only_two" / f"{i}.png"))
    with pytest.raises(DataError, match="only_two"):
        build(tmp_path, "CustomFolder", folder="small")

"""The Demo dataset generates itself once, atomically, with a real split file and learnable classes."""
import os

import numpy as np
import pytest
from PIL import Image

import datasets.demo as demo
from dpl.errors import DataError

from ds_helpers import build


def _tree(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)


def test_generates_with_split_file(tmp_path):
    ds = build(tmp_path, "Demo")
    assert ds.classnames == list(demo.CLASSES)
    assert (len(ds.train_x), len(ds.val), len(ds.test)) == tuple(5 * n for n in demo.PER_SPLIT.values())
    assert os.path.isfile(tmp_path / "demo" / "split_zhou_Demo.json")
    with Image.open(ds.test[0].impath) as im:
        assert im.size == (demo.SIZE, demo.SIZE) and im.format == "PNG"


def test_idempotent(tmp_path):
    build(tmp_path, "Demo")
    split = tmp_path / "demo" / "split_zhou_Demo.json"
    before, mtime = _tree(tmp_path / "demo"), os.stat(split).st_mtime_ns
    build(tmp_path, "Demo", num_shots=2, seed=1)
    after = _tree(tmp_path / "demo")
    assert os.stat(split).st_mtime_ns == mtime
    assert [p for p in after if not p.startswith("split_fewshot")] == before


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def broken(shape, colour, rng):
        calls.append(1)
        if len(calls) > 20:
            raise RuntimeError("disk full")
        return Image.new("RGB", (4, 4))

    monkeypatch.setattr(demo, "_draw", broken)
    with pytest.raises(RuntimeError):
        build(tmp_path, "Demo")
    assert os.listdir(tmp_path) == []  # neither demo/ nor a temp folder


def test_incomplete_folder_is_an_error_not_overwritten(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "mine.txt").write_text("user file")
    with pytest.raises(DataError, match="split_zhou_Demo.json"):
        build(tmp_path, "Demo")
    assert _tree(tmp_path / "demo") == ["mine.txt"]


def test_missing_image_is_an_error(tmp_path):
    ds = build(tmp_path, "Demo")
    os.remove(ds.train_x[0].impath)
    with pytest.raises(DataError, match="incomplete"):
        build(tmp_path, "Demo")


def test_classes_are_learnable(tmp_path):
    """Nearest class-mean on the mean colour of the shape pixels separates the classes."""
    ds = build(tmp_path, "Demo")

    def feature(item):
        with Image.open(item.impath) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.float64).reshape(-1, 3)
        saturated = x[(x.max(1) - x.min(1)) > 60]  # the background is grey-ish noise
        return saturated.mean(0) if len(saturated) else x.mean(0)

    means = np.stack([np.mean([feature(i) for i in ds.train_x if i.label == c], 0) for c in range(ds.num_classes)])
    correct = [np.argmin(((means - feature(i)) ** 2).sum(1)) == i.label for i in ds.test]
    assert np.mean(correct) > 0.9

"""DataManager / DatasetWrapper / build_data_loader on a toy dataset of generated PNGs."""
import os

import pytest
import torch
from PIL import Image

from engine_data_cfg import data_cfg
from dpl.engine.data import DataManager, DatasetWrapper, build_data_loader
from dpl.engine.data.datasets import DATASET_REGISTRY, DatasetBase, Datum
from dpl.engine.data.transforms import build_transform
from dpl.errors import DataError

CLASSES = ["cat", "dog", "owl"]


def toy_items(root, split, per_class):
    items = []
    for label, name in enumerate(CLASSES):
        for i in range(per_class):
            path = os.path.join(root, split, f"{name}_{i}.png")
            items.append(Datum(impath=path, label=label, classname=name))
    return items


@DATASET_REGISTRY.register()
class ToyEngineData(DatasetBase):
    """3 classes; train 3x3, val 3x1 (empty when the root holds a file named NO_VAL), test 3x2."""

    def __init__(self, cfg):
        root = cfg.DATASET.ROOT
        val = [] if os.path.exists(os.path.join(root, "NO_VAL")) else toy_items(root, "val", 1)
        super().__init__(train_x=toy_items(root, "train", 3), val=val, test=toy_items(root, "test", 2))


@pytest.fixture
def toy_root(tmp_path):
    for split, per_class in [("train", 3), ("val", 1), ("test", 2)]:
        os.makedirs(tmp_path / split)
        for label, item in enumerate(toy_items(str(tmp_path), split, per_class)):
            Image.new("RGB", (40 + label, 36), (label * 20 % 255, 100, 50)).save(item.impath)
    return tmp_path


def test_data_manager_builds_loaders_and_summary(toy_root, capsys):
    dm = DataManager(data_cfg(toy_root))
    assert dm.num_classes == 3 and dm.lab2cname == dict(enumerate(CLASSES)) and dm.num_source_domains == 0
    assert dm.train_loader_u is None and dm.val_loader is not None
    assert len(dm.dataset.train_x) == 9
    batch = next(iter(dm.train_loader_x))
    assert set(batch) == {"img", "label", "domain", "impath", "index"}
    assert batch["img"].shape == (4, 3, 32, 32) and batch["label"].dtype == torch.int64
    test_batch = next(iter(dm.test_loader))
    assert test_batch["img"].shape == (6, 3, 32, 32) and test_batch["index"].tolist() == list(range(6))
    out = capsys.readouterr().out
    for row in ["ToyEngineData", "# classes", "# train_x", "# val", "# test"]:
        assert row in out


def test_empty_val_gives_no_val_loader(toy_root, capsys):
    (toy_root / "NO_VAL").write_text("")
    dm = DataManager(data_cfg(toy_root))
    assert dm.val_loader is None and "# val" not in capsys.readouterr().out


def test_custom_transforms_and_wrapper(toy_root):
    class TaggedWrapper(DatasetWrapper):
        def __getitem__(self, idx):
            return {**super().__getitem__(idx), "tag": 7}

    cfg = data_cfg(toy_root)
    dm = DataManager(cfg, custom_tfm_test=build_transform(cfg, is_train=True, choices=["center_crop"]),
                     dataset_wrapper=TaggedWrapper)
    batch = next(iter(dm.test_loader))
    assert batch["tag"].tolist() == [7] * 6 and batch["img"].max() <= 1.0  # no normalize in the custom one


def test_missing_image_is_named_with_count_and_docs_section(toy_root):
    os.remove(toy_root / "test" / "dog_1.png")
    os.remove(toy_root / "train" / "cat_0.png")
    with pytest.raises(DataError) as info:
        DataManager(data_cfg(toy_root))
    message = str(info.value)
    assert "cat_0.png" in message and "2 image" in message and "ToyEngineData" in message
    assert "see DATASETS.md, section ToyEngineData" in message


def test_corrupt_image_is_a_data_error(toy_root):
    (toy_root / "test" / "owl_0.png").write_bytes(b"not a png at all")
    dm = DataManager(data_cfg(toy_root))
    with pytest.raises(DataError) as info:
        list(dm.test_loader)
    message = str(info.value)
    assert "owl_0.png" in message and "ToyEngineData" in message and "could not be decoded" in message


def test_truncated_image_is_a_data_error(toy_root):
    path = toy_root / "train" / "dog_2.png"
    path.write_bytes(path.read_bytes()[:60])
    wrapper = DatasetWrapper(data_cfg(toy_root), [Datum(impath=str(path))], transform=None)
    with pytest.raises(DataError, match="dog_2.png.*could not be decoded"):
        wrapper[0]


@pytest.mark.parametrize("n, batch_size, is_train, drop", [(9, 4, True, True), (9, 9, True, True),
                                                           (3, 4, True, False), (9, 4, False, False)])
def test_drop_last_rule(toy_root, n, batch_size, is_train, drop):
    data = toy_items(str(toy_root), "train", 3)[:n]
    cfg = data_cfg(toy_root)
    loader = build_data_loader(cfg, "SequentialSampler", data, batch_size, build_transform(cfg, False), is_train)
    sizes = [len(batch) for batch in loader.batch_sampler]
    assert len(loader) == len(sizes) == (n // batch_size if drop else -(-n // batch_size))
    assert sum(sizes) == (n // batch_size * batch_size if drop else n)
    assert loader.num_workers == 0 and loader.pin_memory == torch.cuda.is_available()


def test_k_transforms_and_img0(toy_root):
    cfg = data_cfg(toy_root)
    cfg.DATALOADER.K_TRANSFORMS = 2
    cfg.DATALOADER.RETURN_IMG0 = True
    data = toy_items(str(toy_root), "train", 1)
    sample = DatasetWrapper(cfg, data, transform=build_transform(cfg), is_train=True)[0]
    assert len(sample["img"]) == 2 and sample["img0"].shape == (3, 32, 32)
    pair = DatasetWrapper(cfg, data, transform=[build_transform(cfg), build_transform(cfg, False)])[1]
    assert pair["img"].shape == pair["img2"].shape == (3, 32, 32)  # test mode: one view per transform


def test_corrupt_image_message_stays_one_paragraph_with_workers(toy_root):
    (toy_root / "test" / "owl_0.png").write_bytes(b"not a png at all")
    cfg = data_cfg(toy_root)
    cfg.DATALOADER.NUM_WORKERS = 1
    with pytest.raises(DataError) as info:
        list(DataManager(cfg).test_loader)
    message = str(info.value)
    assert "owl_0.png" in message and "could not be decoded" in message and "Traceback" not in message


def test_no_transform_still_gives_tensors(toy_root):
    cfg = data_cfg(toy_root)
    sample = DatasetWrapper(cfg, toy_items(str(toy_root), "test", 1), transform=None)[2]
    assert sample["img"].shape == (3, 32, 32) and sample["label"] == 2

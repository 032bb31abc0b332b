"""A split whose training list lacks a class that val/test have is refused with the class named (issue 17, item 2):
class names came from the training items while labels kept their indices, so every later name was scored against
the wrong label (ZeroshotCLIP exited 0 with a wrong accuracy)."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_zeroshot_on_a_split_whose_train_list_lacks_a_class_is_refused_naming_it(tmp_path, capsys):
    from dpl.testing import make_fake_dataset

    make_fake_dataset("Caltech101", tmp_path / "data", n_classes=4, per_split=(6, 5, 2))
    split = tmp_path / "data" / "caltech-101" / "split_zhou_Caltech101.json"
    data = json.loads(split.read_text())
    dropped = next(name for _, label, name in data["test"] if label == 1)
    data["train"] = [t for t in data["train"] if t[1] != 1]
    split.write_text(json.dumps(data))
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import cli

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        cli(["--root", str(tmp_path / "data"), "--output-dir", str(out), "--seed", "1", "--trainer", "ZeroshotCLIP",
             "--backbone", "tiny-random", "--dataset-config-file", str(REPO / "configs/datasets/caltech101.yaml"),
             "--config-file", str(REPO / "configs/trainers/CoOp/vit_b16_ep50.yaml"), "--eval-only",
             "DATALOADER.NUM_WORKERS", "0", "USE_CUDA", "False"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert repr(dropped) in err and "label 1" in err and "train" in err
    assert not (out / "results.json").exists()

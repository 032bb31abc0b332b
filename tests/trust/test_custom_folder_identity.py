"""A custom folder's run fingerprint describes its images, not how the folder was named or what the file browser
left in it (issue 17, weaker): ``.DS_Store`` does not change it, nor an absolute instead of a relative FOLDER."""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fingerprint(root, folder, out):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from train import build_parser

    from dpl.runs.config import setup_cfg
    from dpl.runs.run_identity import run_fingerprint

    args = build_parser().parse_args([
        "--root", str(root), "--output-dir", str(out), "--seed", "1", "--trainer", "CoOp", "--backbone", "tiny-random",
        "--dataset-config-file", str(REPO / "configs/datasets/custom_folder.yaml"),
        "--config-file", str(REPO / "configs/trainers/CoOp/vit_b16_ep50.yaml"), "DATASET.FOLDER", str(folder)])
    return run_fingerprint(setup_cfg(args))


@pytest.fixture
def custom(tmp_path):
    from dpl.testing import make_fake_dataset

    folder = Path(make_fake_dataset("CustomFolder", tmp_path, n_classes=3, per_split=(5, 2, 3)))
    return tmp_path, folder


def test_hidden_files_do_not_change_it(custom, tmp_path):
    root, folder = custom
    before = fingerprint(root, folder.name, tmp_path / "out")
    (folder / ".DS_Store").write_bytes(b"Bud1")
    class_dir = next(p for p in folder.iterdir() if p.is_dir())
    (class_dir / "._thumb.jpg").write_bytes(b"\0" * 10)
    assert fingerprint(root, folder.name, tmp_path / "out") == before


def test_absolute_and_relative_folder_give_the_same_fingerprint(custom, tmp_path):
    root, folder = custom
    from dpl.runs.run_identity import differences

    relative = fingerprint(root, folder.name, tmp_path / "out")
    absolute = fingerprint(root, folder.resolve(), tmp_path / "out")
    assert differences(relative, absolute) == []


def test_another_image_still_changes_it(custom, tmp_path):
    root, folder = custom
    before = fingerprint(root, folder.name, tmp_path / "out")
    class_dir = next(p for p in folder.iterdir() if p.is_dir())
    image = next(class_dir.iterdir())
    (class_dir / ("extra" + image.suffix)).write_bytes(image.read_bytes())
    assert fingerprint(root, folder.name, tmp_path / "out") != before

"""import_official's two readings of the official alpha files: the search's own result (default) and what the official
launch_train.sh builds from the files passed by their names."""
import json

import numpy as np
import pytest
import torch

from dpl.search.import_official import main

VISION = [3, 0, 6, 1, 2, 0, 4, 1, 0, 0, 2, 5]
TEXT = [4, 2, 0, 0, 1, 3, 0, 6, 2, 0, 0, 1]


def logits_for(lengths, n=6):
    a = np.full((len(lengths), n + 1), -2.0, dtype=np.float32)
    for layer, k in enumerate(lengths):
        a[layer, k] = 3.0
    return a


@pytest.fixture
def official_search(tmp_path):
    """An official search folder: save_alpha writes the image alphas to _txt and the text alphas to _img."""
    np.save(tmp_path / "alpha_e5_txt.npy", logits_for(VISION))
    np.save(tmp_path / "alpha_e5_img.npy", logits_for(TEXT))
    return tmp_path


def launch_train_lengths(img_alpha_path, txt_alpha_path):
    """What the official TrainerSubnet builds from IMG_ALPHA_PATH / TXT_ALPHA_PATH (trainersubnet.py)."""
    lengths = []
    for path in (img_alpha_path, txt_alpha_path):
        alpha = torch.from_numpy(np.load(path))
        lengths.append(torch.argmax(torch.softmax(alpha, dim=-1), dim=-1).tolist())
    return lengths


def test_default_reading_is_the_searchs_own_result(official_search, capsys):
    assert main([str(official_search), "-o", str(official_search / "search.json")]) == 0
    layout = json.loads((official_search / "search.json").read_text())
    assert (layout["vision"], layout["text"]) == (VISION, TEXT)
    assert layout["imported_from"]["read_as"] == "search"
    assert "--read launch-train" in capsys.readouterr().out  # the other reading is named where it matters


def test_launch_train_reading_equals_what_the_official_train_stage_builds(official_search, capsys):
    img, txt = official_search / "alpha_e5_img.npy", official_search / "alpha_e5_txt.npy"
    assert main([str(img), str(txt), "--read", "launch-train", "-o", str(official_search / "lt.json")]) == 0
    layout = json.loads((official_search / "lt.json").read_text())
    vision, text = launch_train_lengths(img, txt)
    assert (layout["vision"], layout["text"]) == (vision, text) == (TEXT, VISION)
    assert layout["imported_from"]["read_as"] == "launch-train"
    assert "text search's lengths" in capsys.readouterr().out


def test_no_swap_is_the_launch_train_reading(official_search):
    assert main([str(official_search), "--no-swap", "-o", str(official_search / "n.json")]) == 0
    assert json.loads((official_search / "n.json").read_text())["vision"] == TEXT


def test_help_names_both_readings_and_the_default(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--read {search,launch-train}" in out and "default: search" in out
    assert "launch_train.sh" in out

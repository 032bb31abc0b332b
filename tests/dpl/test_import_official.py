"""Importing the official search's alpha files: the branch swap of their names, epochs, errors naming the file."""
import json

import numpy as np

from dpl.search.import_official import main


def write_official(folder, epoch, alpha_img, alpha_txt):
    """As the official save_alpha does: the image alphas go to the _txt file and the text alphas to the _img file."""
    np.save(folder / f"alpha_e{epoch}_txt.npy", alpha_img)
    np.save(folder / f"alpha_e{epoch}_img.npy", alpha_txt)


def logits_for(lengths, n=6):
    a = np.full((len(lengths), n + 1), -2.0, dtype=np.float32)
    for layer, k in enumerate(lengths):
        a[layer, k] = 3.0
    return a


VISION = [3, 0, 6, 1, 2, 0, 4, 1, 0, 0, 2, 5]
TEXT = [4, 2, 0, 0, 1, 3, 0, 6, 2, 0, 0, 1]


def test_swap_is_undone_and_the_last_epoch_is_taken(tmp_path, capsys):
    write_official(tmp_path, 79, logits_for(TEXT), logits_for(VISION))  # an older epoch with other values
    write_official(tmp_path, 80, logits_for(VISION), logits_for(TEXT))
    assert main([str(tmp_path)]) == 0
    layout = json.loads((tmp_path / "layout.json").read_text())
    assert layout["vision"] == VISION and layout["text"] == TEXT and layout["max_length"] == 6
    assert layout["backbone"] == "ViT-B/16" and len(layout["confidence"]["vision"]) == 12
    assert layout["imported_from"]["branch_names_swapped"] is True
    assert "each other's names" in capsys.readouterr().out


def test_no_swap_and_explicit_epoch_and_files(tmp_path):
    write_official(tmp_path, 1, logits_for(VISION), logits_for(TEXT))
    write_official(tmp_path, 2, logits_for(TEXT), logits_for(VISION))
    assert main([str(tmp_path), "--epoch", "1", "--no-swap", "-o", str(tmp_path / "a.json")]) == 0
    layout = json.loads((tmp_path / "a.json").read_text())
    assert layout["vision"] == TEXT and layout["text"] == VISION  # names taken as written
    files = [str(tmp_path / "alpha_e2_img.npy"), str(tmp_path / "alpha_e2_txt.npy")]
    assert main([*files, "-o", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["vision"] == TEXT


def test_errors_name_the_file_and_the_shape(tmp_path, capsys):
    np.save(tmp_path / "alpha_e5_txt.npy", np.zeros(7, dtype=np.float32))
    np.save(tmp_path / "alpha_e5_img.npy", logits_for(TEXT))
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "alpha_e5_txt.npy" in err and "(7,)" in err
    assert main([str(tmp_path), "--epoch", "9"]) == 2
    assert "epoch 9" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2 and "no pair" in capsys.readouterr().err


def test_an_existing_layout_is_never_overwritten_silently(tmp_path, capsys):
    write_official(tmp_path, 3, logits_for(VISION), logits_for(TEXT))
    (tmp_path / "layout.json").write_text("{}")
    assert main([str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and (tmp_path / "layout.json").read_text() == "{}"
    assert main([str(tmp_path), "--force"]) == 0
    assert json.loads((tmp_path / "layout.json").read_text())["vision"] == VISION


def test_a_path_that_does_not_exist_says_so(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing} does not exist" in err and "expected a file named" not in err
    write_official(tmp_path, 1, logits_for(VISION), logits_for(TEXT))
    assert main([str(tmp_path / "alpha_e1_img.npy"), str(tmp_path / "alpha_e2_txt.npy")]) == 2
    assert "alpha_e2_txt.npy does not exist" in capsys.readouterr().err


def test_help_prints_its_text_once(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.count("Turn the official DPL search") == 1 and out.count("--epoch 40") == 1
    assert "with the branch names" in out  # the explanation is still there

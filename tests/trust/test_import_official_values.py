"""import_official refuses alphas that are not what the backbone's search writes (issue 17, item 8): values that
overflow float32, a layer count other than the backbone's, integer arrays."""
import json

import numpy as np
import pytest

from dpl.search.import_official import main


def write_pair(folder, vision, text, epoch=5):
    """The official names are swapped: the image alphas go to _txt, the text alphas to _img."""
    np.save(folder / f"alpha_e{epoch}_txt.npy", vision)
    np.save(folder / f"alpha_e{epoch}_img.npy", text)


def alphas(layers, n=4, dtype=np.float32):
    a = np.zeros((layers, n + 1), dtype=dtype)
    a[:, 1] = 2
    return a


def test_float64_values_that_overflow_float32_are_refused_naming_the_file(tmp_path, capsys):
    vision = alphas(12, dtype=np.float64)
    vision[3, 2] = 1e300  # finite in float64, inf once cast to the float32 the layout is derived in
    write_pair(tmp_path, vision, alphas(12))
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "alpha_e5_txt.npy" in err and "float32" in err
    assert not (tmp_path / "layout.json").exists()


@pytest.mark.parametrize("backbone, vision_layers, text_layers", [("ViT-B/16", 12, 12), ("ViT-L/14", 24, 12)])
def test_a_layer_count_other_than_the_backbones_is_refused(tmp_path, capsys, backbone, vision_layers, text_layers):
    write_pair(tmp_path, alphas(vision_layers - 2), alphas(text_layers))
    assert main([str(tmp_path), "--backbone", backbone]) == 2
    err = capsys.readouterr().err
    assert "alpha_e5_txt.npy" in err and f"{vision_layers - 2} layers" in err and f"{vision_layers}" in err
    assert not (tmp_path / "layout.json").exists()
    write_pair(tmp_path, alphas(vision_layers), alphas(text_layers))
    assert main([str(tmp_path), "--backbone", backbone]) == 0
    layout = json.loads((tmp_path / "layout.json").read_text())
    assert len(layout["vision"]) == vision_layers and len(layout["text"]) == text_layers


def test_integer_arrays_are_refused(tmp_path, capsys):
    write_pair(tmp_path, alphas(12), alphas(12, dtype=np.int64))
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "alpha_e5_img.npy" in err and "int64" in err


def test_without_open_clip_the_depths_come_from_the_weights_file(tmp_path, capsys, monkeypatch):
    import sys

    from dpl.backbones.loading import TINY_ARCH, save_tiny_clip_archive

    cache = tmp_path / "clip-cache"
    cache.mkdir()
    save_tiny_clip_archive(str(cache / "ViT-B-16.pt"))  # a ViT-B/16 file as the loader sees it: tiny's depths
    monkeypatch.setenv("DPL_CLIP_CACHE", str(cache))
    monkeypatch.setitem(sys.modules, "open_clip", None)  # the optional extra is not installed
    alpha_dir = tmp_path / "search"
    alpha_dir.mkdir()
    vision, text = TINY_ARCH["vision_layers"], TINY_ARCH["transformer_layers"]
    write_pair(alpha_dir, alphas(vision + 1), alphas(text))
    assert main([str(alpha_dir)]) == 2
    assert f"{vision + 1} layers" in capsys.readouterr().err
    write_pair(alpha_dir, alphas(vision), alphas(text))
    assert main([str(alpha_dir)]) == 0

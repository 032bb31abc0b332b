"""Images in every PIL mode are read as the RGB picture they show: a 16-bit PNG used to be read as a white
square (``convert("RGB")`` saturates 16-bit values), with the run and check_data both reporting success."""
import numpy as np
import pytest
from PIL import Image

from dpl.check_data import main as check_data
from dpl.engine.utils.tools import read_image
from dpl.testing import make_fake_dataset

GRADIENT = np.linspace(0, 1, 16 * 16).reshape(16, 16)


def saved(tmp_path, array, name, mode=None):
    path = tmp_path / name
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)
    return path


def grey_of(path):
    rgb = np.asarray(read_image(str(path)), dtype=float)
    assert rgb.shape == (16, 16, 3) and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    return rgb[..., 0]


@pytest.mark.parametrize("name, array", [
    ("g16.png", (GRADIENT * 65535).astype(np.uint16)),   # mode I;16 (I with older Pillow)
    ("g16.tif", (GRADIENT * 65535).astype(np.uint16)),
    ("g32.tif", (GRADIENT * 65535).astype(np.int32)),    # mode I, 16-bit values
    ("gf.tif", GRADIENT.astype(np.float32)),             # mode F in [0, 1]
    ("g8.png", (GRADIENT * 255).astype(np.uint8)),       # mode L: the reference
])
def test_grey_images_of_every_depth_read_as_the_same_picture(tmp_path, name, array):
    assert np.abs(grey_of(saved(tmp_path, array, name)) - GRADIENT * 255).max() <= 1.0


def test_colour_modes_read_as_rgb(tmp_path):
    rgb = (np.stack([GRADIENT, 1 - GRADIENT, GRADIENT * 0.5], -1) * 255).astype(np.uint8)
    reference = Image.fromarray(rgb)
    for mode in ("RGBA", "CMYK", "P", "LA", "1", "YCbCr"):
        image = reference.convert(mode)
        path = tmp_path / f"im_{mode}.{'jpg' if mode in ('CMYK', 'YCbCr') else 'png' if mode != 'CMYK' else 'tif'}"
        image.save(path)
        got = np.asarray(read_image(str(path)))
        want = np.asarray(Image.open(path).convert("RGB"))  # 8-bit modes: PIL's own conversion is right
        assert got.shape == (16, 16, 3) and np.array_equal(got, want), mode


def test_check_data_flags_images_that_decode_to_one_colour(tmp_path, capsys):
    make_fake_dataset("Caltech101", tmp_path, n_classes=2, per_split=(2, 1, 1))
    assert check_data(["--root", str(tmp_path), "caltech101"]) == 0
    images = sorted((tmp_path / "caltech-101" / "101_ObjectCategories").rglob("*.jpg"))
    for path in images:  # a dataset of blank images
        Image.new("RGB", (8, 8), (255, 255, 255)).save(path)
    capsys.readouterr()
    assert check_data(["--root", str(tmp_path), "caltech101"]) == 1
    out = capsys.readouterr().out
    assert "single colour" in out and any(str(p) in out for p in images)

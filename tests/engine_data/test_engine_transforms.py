"""build_transform: shapes per transform name, test view, normalisation, and config errors."""
import pytest
import torch
from PIL import Image
from torchvision.transforms import CenterCrop, InterpolationMode, Normalize, RandomResizedCrop, Resize

from dpl.engine.data.transforms import AVAI_CHOICES, build_transform
from dpl.errors import ConfigError


def image(w=50, h=40, color=(200, 30, 90)):
    return Image.new("RGB", (w, h), color)


@pytest.mark.parametrize("name", AVAI_CHOICES)
def test_each_transform_gives_the_configured_size(cfg, name):
    cfg.INPUT.SIZE = (24, 24)
    out = build_transform(cfg, is_train=True, choices=[name])(image())
    assert out.shape == (3, 24, 24) and out.dtype == torch.float32


def test_default_choices_come_from_config(cfg):
    cfg.INPUT.TRANSFORMS = ["random_crop", "colorjitter", "random_flip"]
    names = [type(t).__name__ for t in build_transform(cfg).transforms]
    assert names == ["Resize", "RandomCrop", "RandomHorizontalFlip", "ColorJitter", "ToTensor"]
    crop = build_transform(cfg).transforms[1]
    assert crop.padding == cfg.INPUT.CROP_PADDING


def test_random_resized_crop_uses_scale_and_interpolation(cfg):
    cfg.INPUT.RRCROP_SCALE = (0.5, 0.9)
    rrc = build_transform(cfg).transforms[0]
    assert isinstance(rrc, RandomResizedCrop)
    assert tuple(rrc.scale) == (0.5, 0.9) and rrc.interpolation == InterpolationMode.BICUBIC


def test_test_view_is_resize_then_center_crop(cfg):
    cfg.INPUT.SIZE = (16, 16)
    tfm = build_transform(cfg, is_train=False)
    resize, crop = tfm.transforms[:2]
    assert isinstance(resize, Resize) and resize.size == 16 and resize.interpolation == InterpolationMode.BICUBIC
    assert isinstance(crop, CenterCrop)
    assert tfm(image(64, 20)).shape == (3, 16, 16)


def test_normalize_uses_pixel_mean_and_std(cfg):
    color = (200, 30, 90)
    out = build_transform(cfg, is_train=False)(image(color=color))
    expected = [(c / 255 - m) / s for c, m, s in zip(color, cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD)]
    assert torch.allclose(out[:, 0, 0], torch.tensor(expected), atol=1e-5)
    cfg.INPUT.TRANSFORMS = ["random_flip"]
    raw = build_transform(cfg, is_train=False)(image(color=color))
    assert not any(isinstance(t, Normalize) for t in build_transform(cfg, is_train=False).transforms)
    assert torch.allclose(raw[:, 0, 0], torch.tensor([c / 255 for c in color]))


@pytest.mark.parametrize("interp", ["bilinear", "bicubic", "nearest"])
def test_interpolations(cfg, interp):
    cfg.INPUT.INTERPOLATION = interp
    assert build_transform(cfg, is_train=False).transforms[0].interpolation.value == interp


def test_unknown_transform_names_key_and_choices(cfg):
    cfg.INPUT.TRANSFORMS = ["random_flip", "random_fip2", "normalise"]
    with pytest.raises(ConfigError) as info:
        build_transform(cfg)
    message = str(info.value)
    assert "INPUT.TRANSFORMS" in message and "random_fip2" in message and "random_resized_crop" in message


def test_unknown_interpolation(cfg):
    cfg.INPUT.INTERPOLATION = "lanczos"
    with pytest.raises(ConfigError, match=r"INPUT.INTERPOLATION.*lanczos.*bilinear, bicubic, nearest"):
        build_transform(cfg, is_train=False)


def test_no_transform_returns_none(cfg):
    cfg.INPUT.NO_TRANSFORM = True
    assert build_transform(cfg) is None and build_transform(cfg, is_train=False) is None


def test_project_default_config_with_clip_settings():
    from dpl.engine.config import get_cfg_default

    cfg = get_cfg_default()
    cfg.INPUT.TRANSFORMS = ["random_resized_crop", "random_flip", "normalize"]
    cfg.INPUT.INTERPOLATION = "bicubic"
    assert build_transform(cfg)(image(300, 260)).shape == (3, 224, 224)
    assert build_transform(cfg, is_train=False)(image(300, 260)).shape == (3, 224, 224)

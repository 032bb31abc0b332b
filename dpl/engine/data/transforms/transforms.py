"""Dassl's ``build_transform``: torchvision pipelines from ``cfg.INPUT`` (train: augmentation; test: resize + crop)."""

from torchvision.transforms import (CenterCrop, ColorJitter, Compose, InterpolationMode, Normalize, RandomCrop,
                                    RandomHorizontalFlip, RandomResizedCrop, Resize, ToTensor)

from dpl.errors import ConfigError, did_you_mean

AVAI_CHOICES = ["random_resized_crop", "random_crop", "random_flip", "center_crop", "normalize", "colorjitter"]

INTERPOLATION_MODES = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


def _check_choices(choices):
    for name in choices:
        if name not in AVAI_CHOICES:
            raise ConfigError(f"INPUT.TRANSFORMS contains unknown transform {name!r}.{did_you_mean(name, AVAI_CHOICES, n=1)}"
                              f" Allowed: {', '.join(AVAI_CHOICES)}.")


def _interpolation(cfg):
    name = cfg.INPUT.INTERPOLATION
    if name not in INTERPOLATION_MODES:
        raise ConfigError(f"INPUT.INTERPOLATION is {name!r}.{did_you_mean(name, INTERPOLATION_MODES, n=1)} "
                          f"Allowed: {', '.join(INTERPOLATION_MODES)}.")
    return INTERPOLATION_MODES[name]


def build_transform(cfg, is_train=True, choices=None):
    """A ``Compose`` taking a PIL image to a normalised (3, H, W) tensor; ``choices`` defaults to INPUT.TRANSFORMS.

    None when INPUT.NO_TRANSFORM (the data wrapper then only resizes to INPUT.SIZE and converts to a tensor).
    """
    if cfg.INPUT.get("NO_TRANSFORM", False):
        print("Note: no transform is applied (INPUT.NO_TRANSFORM)")
        return None
    choices = list(cfg.INPUT.TRANSFORMS if choices is None else choices)
    _check_choices(choices)
    interp = _interpolation(cfg)
    size = tuple(cfg.INPUT.SIZE)
    normalize = Normalize(mean=cfg.INPUT.PIXEL_MEAN, std=cfg.INPUT.PIXEL_STD)
    steps = _train_steps(cfg, choices, size, interp) if is_train else _test_steps(size, interp)
    steps.append(ToTensor())
    if "normalize" in choices:
        steps.append(normalize)
    return Compose(steps)


def _train_steps(cfg, choices, size, interp):
    steps = []
    if "random_resized_crop" in choices:
        steps.append(RandomResizedCrop(size, scale=tuple(cfg.INPUT.RRCROP_SCALE), interpolation=interp))
    elif "random_crop" in choices:
        # images of any size: resize to SIZE first, then crop SIZE out of the zero-padded image
        steps += [Resize(size, interpolation=interp), RandomCrop(size, padding=cfg.INPUT.CROP_PADDING)]
    elif "center_crop" in choices:
        steps += [Resize(max(size), interpolation=interp), CenterCrop(size)]
    else:
        steps.append(Resize(size, interpolation=interp))
    if "random_flip" in choices:
        steps.append(RandomHorizontalFlip())
    if "colorjitter" in choices:
        steps.append(ColorJitter(brightness=cfg.INPUT.COLORJITTER_B, contrast=cfg.INPUT.COLORJITTER_C,
                                 saturation=cfg.INPUT.COLORJITTER_S, hue=cfg.INPUT.COLORJITTER_H))
    return steps


def _test_steps(size, interp):
    # Dassl's test view: smaller edge to max(SIZE), then a centre crop of SIZE
    return [Resize(max(size), interpolation=interp), CenterCrop(size)]

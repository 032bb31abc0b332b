"""ImageNet-A (test only, 200 classes): ``imagenet-adversarial/imagenet-a/<wnid>/*``."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .imagenet import ImageNetFolderTestSet


@DATASET_REGISTRY.register()
class ImageNetA(ImageNetFolderTestSet):
    dataset_dir = "imagenet-adversarial"
    image_subdir = "imagenet-a"
    config_stem = "imagenet_a"
    ignored = ("README.txt",)

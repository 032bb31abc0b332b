"""ImageNet-R (test only, 200 classes): ``imagenet-rendition/imagenet-r/<wnid>/*``."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .imagenet import ImageNetFolderTestSet


@DATASET_REGISTRY.register()
class ImageNetR(ImageNetFolderTestSet):
    dataset_dir = "imagenet-rendition"
    image_subdir = "imagenet-r"
    config_stem = "imagenet_r"
    ignored = ("README.txt",)

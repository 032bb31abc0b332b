"""ImageNet-Sketch (test only): ``imagenet-sketch/images/<wnid>/*``."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .imagenet import ImageNetFolderTestSet


@DATASET_REGISTRY.register()
class ImageNetSketch(ImageNetFolderTestSet):
    dataset_dir = "imagenet-sketch"
    image_subdir = "images"
    config_stem = "imagenet_sketch"

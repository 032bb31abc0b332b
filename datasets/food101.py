"""Food-101."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset


@DATASET_REGISTRY.register()
class Food101(SplitFileDataset):
    dataset_dir = "food-101"
    image_subdir = "images"
    split_file = "split_zhou_Food101.json"
    config_stem = "food101"

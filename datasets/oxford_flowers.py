"""Oxford Flowers-102."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset


@DATASET_REGISTRY.register()
class OxfordFlowers(SplitFileDataset):
    dataset_dir = "oxford_flowers"
    image_subdir = "jpg"
    split_file = "split_zhou_OxfordFlowers.json"
    config_stem = "oxford_flowers"

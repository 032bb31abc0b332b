"""Stanford Cars (split paths start with cars_train/ or cars_test/)."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset


@DATASET_REGISTRY.register()
class StanfordCars(SplitFileDataset):
    dataset_dir = "stanford_cars"
    image_subdir = ""
    split_file = "split_zhou_StanfordCars.json"
    config_stem = "stanford_cars"

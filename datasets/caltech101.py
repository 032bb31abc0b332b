"""Caltech-101 (CoOp's split; BACKGROUND_Google and Faces_easy are not in it)."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset


@DATASET_REGISTRY.register()
class Caltech101(SplitFileDataset):
    dataset_dir = "caltech-101"
    image_subdir = "101_ObjectCategories"
    split_file = "split_zhou_Caltech101.json"
    config_stem = "caltech101"

"""Oxford-IIIT Pets."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset


@DATASET_REGISTRY.register()
class OxfordPets(SplitFileDataset):
    dataset_dir = "oxford_pets"
    image_subdir = "images"
    split_file = "split_zhou_OxfordPets.json"
    config_stem = "oxford_pets"

"""EuroSAT (RGB). CoOp prompts with phrases instead of the folder names; both forms of split file are read."""
from dpl.engine.data.datasets import DATASET_REGISTRY

from .base import SplitFileDataset

# folder name -> the phrase CoOp uses as the class name
EUROSAT_CLASSNAMES = {
    "AnnualCrop": "Annual Crop Land",
    "Forest": "Forest",
    "HerbaceousVegetation": "Herbaceous Vegetation Land",
    "Highway": "Highway or Road",
    "Industrial": "Industrial Buildings",
    "Pasture": "Pasture Land",
    "PermanentCrop": "Permanent Crop Land",
    "Residential": "Residential Buildings",
    "River": "River",
    "SeaLake": "Sea or Lake",
}


@DATASET_REGISTRY.register()
class EuroSAT(SplitFileDataset):
    dataset_dir = "eurosat"
    image_subdir = "2750"
    split_file = "split_zhou_EuroSAT.json"
    config_stem = "eurosat"
    classname_map = EUROSAT_CLASSNAMES

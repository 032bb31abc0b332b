"""CoOp's datasets on their on-disk formats; importing this package registers every one of them in
``dpl.engine.data.datasets.DATASET_REGISTRY`` under CoOp's names (plus Demo and CustomFolder)."""
from . import (caltech101, demo, dtd, eurosat, fgvc_aircraft, folder, food101, imagenet, imagenet_a,
               imagenet_r, imagenet_sketch, imagenetv2, oxford_flowers, oxford_pets, stanford_cars, sun397,
               ucf101)
from .base import CoOpDataset, SplitFileDataset
from .split_io import read_split, write_split

# registry name -> class, in CoOp's order (check_data and the fake-data generator walk this)
ALL_DATASETS = {
    cls.__name__: cls for cls in (
        imagenet.ImageNet, caltech101.Caltech101, oxford_pets.OxfordPets, stanford_cars.StanfordCars,
        oxford_flowers.OxfordFlowers, food101.Food101, fgvc_aircraft.FGVCAircraft, sun397.SUN397,
        dtd.DescribableTextures, eurosat.EuroSAT, ucf101.UCF101, imagenetv2.ImageNetV2,
        imagenet_sketch.ImageNetSketch, imagenet_a.ImageNetA, imagenet_r.ImageNetR, demo.Demo,
        folder.CustomFolder)
}
# configs/datasets/<stem>.yaml -> registry name
CONFIG_STEMS = {cls.config_stem: name for name, cls in ALL_DATASETS.items()}

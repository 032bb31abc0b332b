from .base_dataset import DatasetBase, Datum, from_triples, to_triples
from .build import DATASET_REGISTRY, build_dataset

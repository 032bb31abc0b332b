"""Dassl's ``dassl.data``: datasets, transforms, samplers, loaders."""
from .data_manager import DataManager, DatasetWrapper, ImageReadError, build_data_loader, check_image_paths
from .samplers import build_sampler
from .transforms import build_transform

"""Helpers for tests: generated datasets in the real on-disk layouts."""
from .fake_datasets import FAKE_DATASET_NAMES, make_fake_dataset, write_image

__all__ = ["FAKE_DATASET_NAMES", "make_fake_dataset", "write_image"]

"""Fixtures of the sweep tests: a data root with the Demo dataset and a small generated Caltech101."""
import pytest


@pytest.fixture(scope="session")
def sweep_data(tmp_path_factory):
    from dpl.testing import make_fake_dataset

    root = tmp_path_factory.mktemp("sweep_data")
    make_fake_dataset("Demo", root)
    make_fake_dataset("Caltech101", root, n_classes=3, per_split=(4, 2, 4))
    return root

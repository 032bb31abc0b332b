"""Fixtures of the end-to-end tests (helpers live in e2e_helpers.py: every test folder has a conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """One data root for the whole session; the Demo dataset generates itself there on first use."""
    return tmp_path_factory.mktemp("data")

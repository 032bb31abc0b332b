"""Fixtures of the method tests (helpers live in methods_helpers.py: every test folder has a conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """One data root for the session; the Demo dataset generates itself there on first use."""
    return tmp_path_factory.mktemp("methods_data")

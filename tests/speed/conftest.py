"""Fixtures of the speed tests: one generated Demo data root per session."""
import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("speed_data"))

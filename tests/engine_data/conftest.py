import pytest

from engine_data_cfg import data_cfg


@pytest.fixture
def cfg():
    return data_cfg()

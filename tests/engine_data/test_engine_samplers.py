import pytest
from torch.utils.data import RandomSampler, SequentialSampler

from dpl.engine.data import build_sampler
from dpl.errors import ConfigError


def test_known_samplers():
    data = list(range(10))
    assert isinstance(build_sampler("RandomSampler", data, 4), RandomSampler)
    sequential = build_sampler("SequentialSampler", data_source=data, batch_size=4)
    assert isinstance(sequential, SequentialSampler) and list(sequential) == data
    assert sorted(build_sampler("RandomSampler", data_source=data)) == data


def test_unknown_sampler():
    with pytest.raises(ConfigError, match="RandomDomainSampler.*RandomSampler, SequentialSampler"):
        build_sampler("RandomDomainSampler", list(range(3)))

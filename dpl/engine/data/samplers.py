"""Dassl's ``build_sampler`` for the samplers CLIP prompt learning uses."""
from torch.utils.data.sampler import RandomSampler, SequentialSampler

from dpl.errors import ConfigError

SAMPLERS = {"RandomSampler": RandomSampler, "SequentialSampler": SequentialSampler}


def build_sampler(sampler_type, data_source=None, batch_size=32, cfg=None, n_domain=0, n_ins=16):
    """A torch sampler over ``data_source``; ``batch_size``/``cfg``/``n_domain``/``n_ins`` are Dassl's signature."""
    if sampler_type not in SAMPLERS:
        raise ConfigError(f"Unknown sampler {sampler_type!r} (DATALOADER.*.SAMPLER). "
                          f"Allowed: {', '.join(SAMPLERS)}.")
    return SAMPLERS[sampler_type](data_source)

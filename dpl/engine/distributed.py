"""Data-parallel runs with ``torch.distributed`` (``torchrun --nproc_per_node N train.py ...``), built so that N
processes compute what one process computes:

- every rank draws the same random numbers (same seed), so every rank sees the same batches in the same order, and
  each rank takes its slice of each batch (``ShardedBatchSampler``);
- each sample's augmentation is seeded by the sampler (``SeededBatchSampler``), not by whichever process loads it;
- gradients are combined as the single process's batch mean would combine them (``sync_gradients``);
- evaluation gathers every prediction before computing the metrics (``gather_objects``);
- only rank 0 logs and writes files (``is_main``).
Without ``torch.distributed`` initialised every function here is the single-process no-op.
"""
import contextlib
import os

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from dpl.errors import ConfigError


def is_distributed():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size():
    return dist.get_world_size() if is_distributed() else 1


def rank():
    return dist.get_rank() if is_distributed() else 0


def is_main():
    return rank() == 0


def local_rank():
    return int(os.environ.get("LOCAL_RANK", 0))


def init_from_env(use_cuda=True):
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); returns whether this run is distributed.
    NCCL with one GPU per process when CUDA is used, gloo on CPU."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or is_distributed():
        return is_distributed()
    cuda = use_cuda and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def shutdown():
    """Leave the process group at the end of a run (after every process reached this point)."""
    if is_distributed():
        barrier()
        dist.destroy_process_group()


def barrier():
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def main_first():
    """Rank 0 runs the block first (e.g. generating or caching a dataset), the others after it finished."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def sync_gradients(params, local_count):
    """Make every rank's gradients those of the whole batch: each rank's gradient of the mean over its ``local_count``
    samples, weighted by its share of all the ranks' samples, summed over the ranks (exact for losses that are means
    over the batch; a term that does not depend on the batch, equal on every rank, stays as it is). One all-reduce."""
    if not is_distributed():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1).double() * local_count for g in grads]
                     + [torch.tensor([float(local_count)], dtype=torch.float64, device=grads[0].device)])
    dist.all_reduce(flat)
    flat = flat[:-1] / flat[-1]
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g).to(g.dtype))
        offset += n


def gather_objects(obj):
    """[obj of rank 0, obj of rank 1, ...] on every rank ([obj] without distribution)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


class SeededBatchSampler(Sampler):
    """Batches of ``(index, seed)``: the seed fixes that sample's augmentation wherever it is loaded (any worker, any
    rank). The epoch's seeds come from one draw of the global torch RNG when iteration starts, after the index
    sampler drew its own, so the batches are what the plain batch sampler gives for the same RNG state."""

    def __init__(self, batch_sampler):
        self.batch_sampler = batch_sampler

    def __iter__(self):
        batches = iter(self.batch_sampler)  # the index sampler draws its seed (RandomSampler) here
        first = next(batches, None)
        if first is None:
            return
        generator = torch.Generator()
        generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        for batch in (first, *batches):
            seeds = torch.randint(0, 2 ** 62, (len(batch),), generator=generator).tolist()
            yield list(zip(batch, seeds))

    def __len__(self):
        return len(self.batch_sampler)


class ShardedBatchSampler(Sampler):
    """This rank's slice (``batch[rank::world]``) of every batch of ``batch_sampler``. ``strict`` (training): every
    rank must get a non-empty slice of every batch, since each step all-reduces gradients; otherwise (evaluation) a
    rank skips a batch too small to give it anything."""

    def __init__(self, batch_sampler, batch_size, rank_=None, world=None, strict=True):
        self.batch_sampler = batch_sampler
        self.rank = rank() if rank_ is None else rank_
        self.world = world_size() if world is None else world
        self.strict = strict
        if batch_size < self.world:
            raise ConfigError(f"a batch of {batch_size} cannot be split over {self.world} processes; use a batch size "
                              f"of at least {self.world} (DATALOADER.*.BATCH_SIZE) or fewer processes")

    def __iter__(self):
        for batch in self.batch_sampler:
            if len(batch) < self.world and self.strict:
                raise ConfigError(f"a training batch of {len(batch)} samples cannot be split over {self.world} "
                                  "processes (the split holds fewer samples than the batch size); use fewer processes")
            mine = batch[self.rank::self.world]
            if mine:
                yield mine

    def __len__(self):
        return len(self.batch_sampler)

"""Training images of the first epoch: by default Dassl's stream (the loading process's global RNG), equal to Dassl's
loader for a seed with 0 and with 2 workers, and the global RNG left where Dassl leaves it; with
DATALOADER.PER_SAMPLE_SEEDS each sample's own seed, the same images with any NUM_WORKERS."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer_harness import build_as_train_py  # noqa: E402

import official_reference as ref  # noqa: E402

SEED = 4
BATCH = 4


def _data_manager(data_root, tmp_path, workers, per_sample=False):
    opts = ["DATASET.NUM_SHOTS", 4, "OPTIM.MAX_EPOCH", 1, "DATALOADER.TRAIN_X.BATCH_SIZE", BATCH,
            "DATALOADER.NUM_WORKERS", workers, "DATALOADER.PER_SAMPLE_SEEDS", per_sample,
            "INPUT.TRANSFORMS", "['random_resized_crop', 'random_flip', 'normalize']"]
    trainer = build_as_train_py("CoOp", "CoOp/vit_b16_ep50.yaml", data_root, tmp_path / f"w{workers}{per_sample}", opts)
    return trainer.dm


def _epoch(loader):
    """(indices, images) of one pass, and the global RNG state after it."""
    batches = [(b["index"].tolist(), b["img"]) for b in loader]
    return [i for idx, _ in batches for i in idx], torch.cat([img for _, img in batches]), torch.get_rng_state()


@pytest.mark.parametrize("workers", [0, 2])
def test_first_epoch_images_equal_dassls_loader(data_root, tmp_path, workers):
    from dpl.engine.utils.tools import read_image

    dm = _data_manager(data_root, tmp_path, workers)
    train_x = dm.dataset.train_x
    assert len(train_x) > 2 * BATCH  # several batches, so workers take turns
    torch.manual_seed(SEED)
    ours = _epoch(dm.train_loader_x)
    torch.manual_seed(SEED)
    official = _epoch(ref.dassl_train_loader(train_x, dm.tfm_train, read_image, BATCH, workers))
    assert ours[0] == official[0]  # the same shuffle
    assert torch.equal(ours[1], official[1])  # the same augmented images
    assert torch.equal(ours[2], official[2])  # the global RNG where Dassl leaves it


def test_per_sample_seeds_give_the_same_images_with_any_workers(data_root, tmp_path):
    epochs = []
    for workers in (0, 2):
        dm = _data_manager(data_root, tmp_path, workers, per_sample=True)
        torch.manual_seed(SEED)
        epochs.append(_epoch(dm.train_loader_x))
    assert epochs[0][0] == epochs[1][0]
    assert torch.equal(epochs[0][1], epochs[1][1])
    torch.manual_seed(SEED)
    dassl = _epoch(_data_manager(data_root, tmp_path, 0).train_loader_x)
    assert not torch.equal(dassl[1], epochs[0][1])  # another stream than Dassl's, on purpose

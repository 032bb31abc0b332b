"""Checkpoints in Dassl's layout: ``<dir>/model.pth.tar-<epoch>``, the text file ``checkpoint`` naming the
latest, ``model-best.pth.tar``. Writes are atomic; RNG states travel with the checkpoint so a resumed
run continues exactly where the interrupted one stopped."""
import os
import random
from collections import OrderedDict

import numpy as np
import torch

from dpl.errors import CheckpointError

from .io import atomic_open, atomic_torch_save, mkdir_if_missing

BEST_NAME = "model-best.pth.tar"
POINTER_NAME = "checkpoint"


def get_rng_state():
    """Python, numpy, torch (and CUDA) generator states, as types ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state, save_dir, is_best=False, remove_module_from_keys=True, model_name="", update_pointer=True):
    """Save ``state`` (with ``epoch``) as ``save_dir/model.pth.tar-<epoch>`` and point ``checkpoint`` at it,
    or as ``save_dir/<model_name>`` when a name is given (e.g. ``model-best.pth.tar``). ``update_pointer``
    False leaves the pointer to the caller (the trainer moves all pointers once every model's file is written)."""
    mkdir_if_missing(save_dir)
    if remove_module_from_keys:  # checkpoints of nn.DataParallel models load into plain ones
        state["state_dict"] = OrderedDict(
            (k[7:] if k.startswith("module.") else k, v) for k, v in state["state_dict"].items())
    if not model_name:
        model_name = "model.pth.tar-" + str(state["epoch"])
    fpath = os.path.join(save_dir, model_name)
    atomic_torch_save(state, fpath)
    print(f"Checkpoint saved to {fpath}")
    if model_name != BEST_NAME and update_pointer:
        with atomic_open(os.path.join(save_dir, POINTER_NAME), "w") as f:
            f.write(model_name + "\n")
    if is_best:
        best_fpath = os.path.join(save_dir, BEST_NAME)
        atomic_torch_save(state, best_fpath)
        print(f'Best checkpoint saved to "{best_fpath}"')


def load_checkpoint(fpath):
    """Load a checkpoint on CPU (or CUDA when present); a missing or unreadable file is a CheckpointError."""
    if not fpath:
        raise CheckpointError("No checkpoint path given")
    if not os.path.isfile(fpath):
        raise CheckpointError(f"Checkpoint not found: {fpath}")
    map_location = None if torch.cuda.is_available() else "cpu"
    try:
        return torch.load(fpath, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"Cannot read checkpoint {fpath} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
                              "The file is corrupt or not a checkpoint of this project; delete it (or its "
                              "folder) to train from scratch, or point --resume/--model-dir elsewhere") from e


def latest_checkpoint_path(fdir):
    """Path named by ``fdir/checkpoint`` (Dassl's pointer to the latest epoch file)."""
    pointer = os.path.join(fdir, POINTER_NAME)
    try:
        with open(pointer) as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise CheckpointError(f"Cannot read {pointer}: {e}") from e
    if not lines:
        raise CheckpointError(f"{pointer} is empty; it should name the latest checkpoint file")
    return os.path.join(fdir, lines[0])


def resume_from_checkpoint(fdir, model, optimizer=None, scheduler=None, restore_rng=True):
    """Load the latest checkpoint of ``fdir`` into model / optimizer / scheduler (and the RNG states);
    return the epoch to start from."""
    fpath = latest_checkpoint_path(fdir)
    print(f"Loading checkpoint from {fpath}")
    start_epoch = restore_checkpoint(load_checkpoint(fpath), fpath, model, optimizer, scheduler, restore_rng)
    print(f"Previous epoch: {start_epoch}")
    return start_epoch


def restore_checkpoint(checkpoint, fpath, model, optimizer=None, scheduler=None, restore_rng=True):
    """Put a loaded checkpoint (read from ``fpath``) into model / optimizer / scheduler and, with
    ``restore_rng``, the RNG states; return its epoch."""
    try:
        model.load_state_dict(checkpoint["state_dict"])
        print("Loaded model weights")
        if optimizer is not None and checkpoint.get("optimizer") is not None:
            optimizer.load_state_dict(checkpoint["optimizer"])
            print("Loaded optimizer")
        if scheduler is not None and checkpoint.get("scheduler") is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
            print("Loaded scheduler")
        epoch = checkpoint["epoch"]
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(f"Checkpoint {fpath} does not match this model/optimizer: {e}") from e
    if restore_rng and checkpoint.get("rng_state") is not None:
        set_rng_state(checkpoint["rng_state"])
        print("Restored random number generator states")
    return epoch


def count_num_param(model=None, params=None):
    if model is not None:
        return sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in params)


def load_pretrained_weights(model, weight_path):
    """Load the matching (name and shape) tensors of a checkpoint or state dict; report the rest."""
    checkpoint = load_checkpoint(weight_path)
    state_dict = checkpoint.get("state_dict", checkpoint)
    model_dict = model.state_dict()
    matched, discarded = OrderedDict(), []
    for k, v in state_dict.items():
        k = k[7:] if k.startswith("module.") else k
        if k in model_dict and model_dict[k].size() == v.size():
            matched[k] = v
        else:
            discarded.append(k)
    if not matched:
        raise CheckpointError(f"No tensor of {weight_path} matches the model (names or shapes differ)")
    model_dict.update(matched)
    model.load_state_dict(model_dict)
    print(f'Successfully loaded pretrained weights from "{weight_path}"')
    if discarded:
        print(f"** The following layers are discarded due to unmatched keys or layer size: {discarded}")

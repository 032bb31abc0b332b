"""A full disk while a checkpoint or results file is written (issue 17, weaker): one error naming the file being
written and the free space, the previous file left whole, no temp file left behind."""
import errno
import os

import pytest
import torch

from dpl import file_io
from dpl.errors import DPLError


def test_a_full_disk_names_the_file_and_the_free_space(tmp_path, monkeypatch):
    path = tmp_path / "prompt_learner" / "model.pth.tar-1"
    file_io.atomic_torch_save({"epoch": 0}, str(path))

    def disk_full(fd):  # where a full disk shows up on delayed allocation: when the data reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(file_io.os, "fsync", disk_full)
    with pytest.raises(DPLError) as info:
        file_io.atomic_torch_save({"epoch": 1, "w": torch.ones(10)}, str(path))
    message = str(info.value)
    assert str(path) in message and "free" in message and "No space left" in message
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC  # callers catching OSError still do
    assert torch.load(path, weights_only=True) == {"epoch": 0}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]

"""A CLIP weights file is data: loading a TorchScript archive must never run the code it carries (issue 17, item 1)."""
import io
import os
import pickle
import zipfile
from typing import Tuple

import pytest
import torch

from dpl.backbones import loading as backbone
from dpl.backbones.loading import load_clip, save_tiny_clip_archive
from dpl.errors import BackboneError

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]

MARK = "CODE-FROM-THE-WEIGHTS-FILE-RAN"


class Payload(torch.nn.Module):
    """A module whose TorchScript ``__setstate__`` (run by torch.jit.load) prints MARK and writes into ``target``."""

    def __init__(self, target: str):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4))
        self.target = target

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, str, bool]:
        return (self.weight, self.target, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, str, bool]) -> None:
        self.weight = state[0]
        self.target = state[1]
        self.training = state[2]
        print("CODE-FROM-THE-WEIGHTS-FILE-RAN")
        torch.from_file(self.target, True, 8, dtype=torch.uint8).fill_(88)

    def forward(self, x):
        return x * self.weight


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory):
    return save_tiny_clip_archive(str(tmp_path_factory.mktemp("archive") / "ViT-B-16.pt"))


def test_archive_with_code_in_setstate_is_refused_without_running_it(tmp_path, capfd):
    target = tmp_path / "victim.bin"
    target.write_bytes(bytes(8))
    archive = tmp_path / "ViT-B-16.pt"
    torch.jit.save(torch.jit.script(Payload(str(target))), str(archive))
    capfd.readouterr()
    with pytest.raises(BackboneError, match=r"__setstate__.*not run"):
        load_clip("ViT-B/16", path=str(archive))
    assert MARK not in capfd.readouterr().out
    assert target.read_bytes() == bytes(8)


class _System:
    """Pickles as a call of os.system: what a hostile data.pkl would ask a permissive unpickler to run."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_data_pkl_asking_for_another_global_is_refused_by_name(tmp_path, tiny_archive):
    marker = tmp_path / "written-by-the-file"
    crafted = tmp_path / "ViT-B-16.pt"
    with zipfile.ZipFile(tiny_archive) as src, zipfile.ZipFile(crafted, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps(_System(f"touch {marker}"), protocol=2)
            dst.writestr(item, data)
    with pytest.raises(BackboneError, match=r"system.*not part of a weights file"):
        load_clip("ViT-B/16", path=str(crafted))
    assert not marker.exists()


def test_generated_archive_loads_its_weights_without_torch_jit_load(tiny_archive, monkeypatch):
    with backbone._quiet_jit():
        expected = torch.jit.load(tiny_archive, map_location="cpu").state_dict()

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load ran the weights file's code")

    monkeypatch.setattr(torch.jit, "load", refuse)
    model = load_clip("ViT-B/16", path=tiny_archive)
    got = model.state_dict()
    for key in ("input_resolution", "context_length", "vocab_size"):  # build_model drops these three
        expected.pop(key)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(got[key], value.to(got[key].dtype)), key


def test_truncated_archive_names_the_file_and_the_missing_record(tmp_path, tiny_archive):
    damaged = tmp_path / "ViT-B-16.pt"
    with zipfile.ZipFile(tiny_archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("/data/3"):
                dst.writestr(item, src.read(item.filename))
    with pytest.raises(BackboneError, match=r"ViT-B-16.pt has no record archive/data/3"):
        load_clip("ViT-B/16", path=str(damaged))

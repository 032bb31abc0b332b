"""PREC fp16 on a machine without CUDA runs in fp32 with a note (issue 21 item 6): CPU fp16 is about 10x slower per
batch than fp32, so the MaPLe / CoOp / PromptSRC demos ran slowly for nothing. DPL_CPU_FP16=1 keeps fp16 on the CPU
(the suite sets it in tests/conftest.py for its bit-exact checks of the official fp16 scheme)."""
import pytest
import torch
from trainer_harness import build

from dpl.method.trainer_base import CPU_FP16_ENV


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cpu_precision_data")


@pytest.mark.parametrize("trainer", ["CoOp", "MaPLe"])
def test_fp16_config_runs_fp32_on_the_cpu_with_a_note(trainer, data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(CPU_FP16_ENV, raising=False)
    built = build(trainer, data_root, tmp_path, "fp16")
    assert built.device.type == "cpu" and built.precision == "fp32"
    assert built.clip.model.visual.conv1.weight.dtype == torch.float32
    out = capsys.readouterr().out
    assert "PREC is fp16, but this run is on the CPU" in out and f"{CPU_FP16_ENV}=1" in out


def test_the_variable_keeps_fp16_on_the_cpu(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv(CPU_FP16_ENV, "1")
    built = build("CoOp", data_root, tmp_path, "fp16")
    assert built.precision == "fp16" and built.clip.model.visual.conv1.weight.dtype == torch.float16

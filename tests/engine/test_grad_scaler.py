"""The AMP loss-scaling path (CUDA-only in real runs), exercised on the CPU with a CPU GradScaler: a scaled step
updates the prompts, an inf gradient skips the step and lowers the scale, and the scaler's state travels in the
checkpoints so a resumed run continues with the same scale."""
import pytest
import torch
from trainer_harness import build

from dpl.method.trainer_base import make_grad_scaler


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("scaler_data")


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available")
def test_scaler_only_for_amp_on_cuda():
    assert make_grad_scaler("fp32", "cuda") is None and make_grad_scaler("fp16", "cuda") is None
    assert make_grad_scaler("amp", "cpu") is None  # bf16 autocast needs no loss scaling
    assert isinstance(make_grad_scaler("amp", "cuda"), torch.amp.GradScaler)


def _with_cpu_scaler(trainer, scale):
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=scale, growth_interval=1000)
    return trainer


def test_scaled_step_updates_and_inf_skips(data_root, tmp_path):
    trainer = _with_cpu_scaler(build("CoOp", data_root, tmp_path, "amp"), 2.0 ** 10)
    ctx = trainer.model.prompt_learner.ctx
    before = ctx.detach().clone()
    trainer.set_model_mode("train")
    trainer.batch_idx, trainer.num_batches = 0, 10
    trainer.forward_backward(next(iter(trainer.train_loader_x)))
    assert not torch.equal(before, ctx) and trainer.scaler.get_scale() == 2.0 ** 10
    after_step = ctx.detach().clone()
    trainer.backward_and_update((ctx.float() * float("inf")).sum(), names=["prompt_learner"])
    assert torch.equal(after_step, ctx)  # the step with inf gradients was skipped
    assert trainer.scaler.get_scale() == 2.0 ** 9  # and the scale backed off


def test_scaler_state_is_checkpointed_and_restored(data_root, tmp_path):
    trainer = _with_cpu_scaler(build("CoOp", data_root, tmp_path, "amp"), 2.0 ** 7)
    trainer.save_model(0, str(tmp_path))
    ckpt = torch.load(tmp_path / "prompt_learner" / "model.pth.tar-1", map_location="cpu", weights_only=True)
    assert ckpt["grad_scaler"]["scale"] == 2.0 ** 7
    resumed = _with_cpu_scaler(build("CoOp", data_root, tmp_path, "amp"), 2.0 ** 16)
    assert resumed.resume_model_if_exist(str(tmp_path)) == 1
    assert resumed.scaler.get_scale() == 2.0 ** 7


def test_no_scaler_no_scaler_state(data_root, tmp_path):
    trainer = build("CoOp", data_root, tmp_path, "fp32")
    trainer.save_model(0, str(tmp_path))
    ckpt = torch.load(tmp_path / "prompt_learner" / "model.pth.tar-1", map_location="cpu", weights_only=True)
    assert "grad_scaler" not in ckpt

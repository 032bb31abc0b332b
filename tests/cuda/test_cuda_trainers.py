"""Every trainer for one short epoch on CUDA with tiny-random on the Demo data, in fp32, fp16 (CLIP weights in
fp16) and amp (fp16 autocast with a GradScaler); a resumed run ends where an uninterrupted one does; nothing of
a model is left on the CPU (parameters, buffers and plain tensor attributes such as the text masks)."""
import pytest
import torch
from cuda_helpers import (DEVICE, PRECISIONS, TRAINERS, assert_accuracy_of_the_test_split, build, learned_state,
                          rel_err)
from trainer_harness import train_until_interrupted

from dpl.testing.devices import tensors_off_device

pytestmark = pytest.mark.cuda

TRAINED = [name for name in TRAINERS if name != "ZeroshotCLIP"]


def check_placement(trainer, precision):
    expected = "fp32" if type(trainer).__name__ == "VPT" else precision  # official VPT always runs fp32
    assert trainer.device.type == DEVICE.type
    assert trainer.precision == expected
    weight = trainer.clip.model.visual.conv1.weight
    assert weight.dtype == (torch.float16 if expected == "fp16" else torch.float32)
    assert tensors_off_device(trainer.model, DEVICE) == []
    if DEVICE.type == "cuda":
        assert trainer.test_loader.pin_memory
    return expected


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", TRAINED)
def test_one_epoch_trains_and_tests(name, precision, data_root, tmp_path):
    trainer = build(name, data_root, tmp_path, precision)
    expected = check_placement(trainer, precision)
    assert (trainer.scaler is not None) == (expected == "amp" and DEVICE.type == "cuda")
    batch = next(iter(trainer.train_loader_x))
    assert batch["img"].is_pinned() == (DEVICE.type == "cuda")
    before = learned_state(trainer)
    trainer.train()
    after = learned_state(trainer)
    assert all(torch.isfinite(v.float()).all() for v in after.values())
    for model in trainer.get_model_names():  # every optimised model moved (fp16 prompts included)
        keys = [k for k in before if k.startswith(model + ".")]
        assert any(not torch.equal(before[k], after[k]) for k in keys), model
    assert_accuracy_of_the_test_split(trainer, trainer.last_results["accuracy"])
    assert tensors_off_device(trainer.model, DEVICE) == []
    if trainer.scaler is not None:
        assert trainer.scaler.get_scale() > 0
        ckpt = torch.load(tmp_path / "prompt_learner" / "model.pth.tar-1", map_location="cpu", weights_only=True)
        assert ckpt["grad_scaler"]["scale"] == trainer.scaler.get_scale()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_zero_shot_evaluates(precision, data_root, tmp_path):
    trainer = build("ZeroshotCLIP", data_root, tmp_path, precision)
    check_placement(trainer, precision)
    trainer.test()
    assert_accuracy_of_the_test_split(trainer, trainer.last_results["accuracy"])


RESUME_CASES = [("DPLSearch", "amp"), ("DPLSearch", "fp16"), ("CoOp", "fp16"), ("PromptSRC", "amp")]


@pytest.mark.parametrize("name,precision", RESUME_CASES)
def test_resume_ends_where_an_uninterrupted_run_ends(name, precision, data_root, tmp_path):
    """Stopped after epoch 1 of 2 and resumed. Tolerance 1e-4 relative: CUDA's index_put backward accumulates
    with atomics, so two identical runs may differ in the last bits."""
    opts = ["OPTIM.MAX_EPOCH", 2, "TRAIN.CHECKPOINT_FREQ", 1, "TEST.NO_TEST", True]
    reference = build(name, data_root, tmp_path / "reference", precision, opts)
    reference.train()

    train_until_interrupted(build(name, data_root, tmp_path / "run", precision, opts))
    resumed = build(name, data_root, tmp_path / "run", precision, opts)
    resumed.train()
    assert resumed.start_epoch == 1
    expected, state = learned_state(reference), learned_state(resumed)
    assert state.keys() == expected.keys()
    for k in expected:
        assert rel_err(state[k], expected[k]) < 1e-4, k
    if reference.scaler is not None:
        assert resumed.scaler.get_scale() == reference.scaler.get_scale()

"""Every trainer built by train.py's code path with MODEL.FULL_TEXT_CONTEXT False (text passes stop at the batch's
last end-of-text token) gives the logits, gradients and precomputed text features (zero-shot, KD teacher,
PromptSRC targets) of the full 77-token context, up to the order of float sums.

Tolerances (tiny-random: outputs up to ~2, gradients up to ~7): fp32 relative 1e-4, absolute 1e-4 (measured: at
most 2.4e-6 on outputs, 8.1e-6 on gradients); fp16 (DPL_CPU_FP16=1, the suite's conftest) relative 1e-2, absolute
5e-2 (measured: at most 4.4e-3 on outputs, 1.8e-2 on gradients of size ~5.5, i.e. a few fp16 ulps)."""
import pytest
import torch
from trainer_harness import TRAINERS, build

TOLERANCE = {"fp32": dict(rtol=1e-4, atol=1e-4), "fp16": dict(rtol=1e-2, atol=5e-2)}


def _tensors(output):
    """The float tensors of a learner's output (a tensor, or a tuple / dict of them, e.g. PromptSRC's)."""
    if torch.is_tensor(output):
        return [output] if output.is_floating_point() else []
    items = output.values() if isinstance(output, dict) else output
    return [t for item in items for t in _tensors(item)]


def _run(trainer_name, precision, full, data_root, tmp_path):
    trainer = build(trainer_name, data_root, tmp_path / f"full{full}", precision,
                    opts=["MODEL.FULL_TEXT_CONTEXT", full], seed=1)
    assert trainer.clip.full_text_context is full
    model = trainer.model
    model.train()
    g = torch.Generator().manual_seed(0)
    size = trainer.clip.input_resolution
    images = torch.randn(2, 3, size, size, generator=g).to(trainer.device)
    outputs = _tensors(model(images))
    # a fixed random weighting of every output so that every gradient path is exercised
    loss = sum((t.float() * torch.randn(t.shape, generator=g)).sum() for t in outputs)
    grads = {}
    if loss.requires_grad:
        loss.backward()
        grads = {n: p.grad.float().clone() for n, p in model.named_parameters() if p.grad is not None}
    buffers = {n: b.float().clone() for n, b in model.named_buffers() if b.is_floating_point()}
    return [t.detach().float() for t in outputs], grads, buffers


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("trainer_name", sorted(TRAINERS))
def test_short_text_context_equals_the_full_context(trainer_name, precision, data_root, tmp_path):
    short = _run(trainer_name, precision, False, data_root, tmp_path)
    full = _run(trainer_name, precision, True, data_root, tmp_path)
    tol = TOLERANCE[precision]
    (out_s, grad_s, buf_s), (out_f, grad_f, buf_f) = short, full
    assert len(out_s) == len(out_f) > 0
    for a, b in zip(out_s, out_f):
        torch.testing.assert_close(a, b, **tol)
    assert grad_s.keys() == grad_f.keys()
    if trainer_name != "ZeroshotCLIP":
        assert grad_s, f"{trainer_name}: no gradient reached a parameter"
    # VPT rounds its prompts through fp16 as the official code does, so their gradients are fp16-rounded too
    grad_tol = TOLERANCE["fp16"] if trainer_name == "VPT" else tol
    for name in grad_s:
        torch.testing.assert_close(grad_s[name], grad_f[name], **grad_tol, msg=lambda m: f"grad of {name}: {m}")
    assert buf_s.keys() == buf_f.keys()
    for name in buf_s:
        torch.testing.assert_close(buf_s[name], buf_f[name], **tol, msg=lambda m: f"buffer {name}: {m}")

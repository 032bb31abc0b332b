"""The named switches that keep our numerically better behaviour: on in every baseline's *_fixed.yaml, off by
default; ``LOSS_FP32`` takes the losses on float32 copies, ``TRAINER.VPT.PROMPTS_FP32`` leaves VPT's prompts
unrounded."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from trainer_harness import build

REPO = Path(__file__).resolve().parents[2]
FIXED = sorted((REPO / "configs" / "trainers").glob("*/*_fixed.yaml"))
NODES = {"CoOp": "COOP", "CoCoOp": "COCOOP", "IVLP": "IVLP", "VPT": "VPT", "MaPLe": "MAPLE", "PromptSRC": "PROMPTSRC"}


def test_every_baseline_has_a_fixed_config():
    assert set(NODES) <= {p.parent.name for p in FIXED}


@pytest.mark.parametrize("name", sorted(NODES))
def test_fixed_configs_switch_on_what_defaults_leave_off(name):
    from dpl.runs.config import get_cfg, merge_from_file

    node = NODES[name]
    (path,) = [p for p in FIXED if p.parent.name == name]
    default, fixed = get_cfg(), get_cfg()
    merge_from_file(fixed, str(path))
    merge_from_file(default, str(path).replace("_fixed.yaml", ".yaml"))
    assert fixed.TRAINER[node].LOSS_FP32 and not default.TRAINER[node].LOSS_FP32
    if name == "VPT":
        assert fixed.TRAINER.VPT.PROMPTS_FP32 and not default.TRAINER.VPT.PROMPTS_FP32
    # nothing else differs
    fixed.TRAINER[node].LOSS_FP32 = default.TRAINER[node].LOSS_FP32
    fixed.TRAINER.VPT.PROMPTS_FP32 = default.TRAINER.VPT.PROMPTS_FP32
    assert fixed == default


def test_loss_fp32_takes_the_loss_on_a_float32_copy(tmp_path):
    trainer = build("CoOp", tmp_path / "data", tmp_path / "out", "fp16", ["TRAINER.COOP.LOSS_FP32", True])
    logits = torch.randn(4, 3).half()
    label = torch.tensor([0, 1, 2, 0])
    loss, _ = trainer.compute_loss(logits, label, None)
    assert torch.equal(loss, F.cross_entropy(logits.float(), label))
    trainer.cfg.defrost()
    trainer.cfg.TRAINER.COOP.LOSS_FP32 = False
    assert trainer.compute_loss(logits, label, None)[0].dtype == torch.float16


@pytest.mark.parametrize("prompts_fp32", [False, True])
def test_vpt_prompts_rounded_unless_switched(tmp_path, prompts_fp32):
    trainer = build("VPT", tmp_path / "data", tmp_path / "out", "fp32", ["TRAINER.VPT.PROMPTS_FP32", prompts_fp32])
    prompt = trainer.model.prompt_learner.vision["0"]
    with torch.no_grad():
        prompt.add_(1e-4 * torch.randn_like(prompt))  # values fp16 cannot hold
    images = torch.randn(1, 3, 224, 224)
    trainer.model.eval()
    with torch.no_grad():
        ours = trainer.model(images)
        rounded = prompt.half().float()
        prompt.copy_(rounded)
        at_rounded = trainer.model(images)
    assert torch.equal(ours, at_rounded) != prompts_fp32

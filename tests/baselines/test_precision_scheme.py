"""The dtype of every learned tensor per trainer under PREC fp16, against the official codebases' scheme: CLIP as
OpenAI's convert_weights leaves it; the text input context (CoOp, CoCoOp, IVLP, MaPLe, PromptSRC), CoCoOp's
meta-net and MaPLe's layer-0 projection in CLIP's dtype; deep prompts, MaPLe's deeper projections and DPL's prompts
and alphas in fp32; VPT entirely fp32 (its official loader calls .float())."""
import re

import pytest
import torch
from trainer_harness import build

F16, F32 = torch.float16, torch.float32
# trainer -> (CLIP's dtype, [(full-match pattern of a learned parameter's name, its dtype)]); every pattern must
# match at least one parameter and every parameter exactly one pattern.
OFFICIAL_FP16 = {
    "CoOp": (F16, [(r"ctx", F16)]),
    "CoCoOp": (F16, [(r"context\.ctx", F16), (r"meta_net\.\d+\.(weight|bias)", F16)]),
    "IVLP": (F16, [(r"context\.ctx", F16), (r"layers\.(vision|text)\.\d+", F32)]),
    "PromptSRC": (F16, [(r"context\.ctx", F16), (r"layers\.(vision|text)\.\d+", F32)]),
    "MaPLe": (F16, [(r"context\.ctx", F16), (r"projections\.0\.(weight|bias)", F16),
                    (r"projections\.[1-9]\d*\.(weight|bias)", F32), (r"layers\.text\.\d+", F32)]),
    "VPT": (F32, [(r"vision\.\d+", F32)]),
    "DPL": (F16, [(r"(vision|text)\.\d+", F32)]),
    "DPLSearch": (F16, [(r"(vision|text)\.\d+_\d+", F32)]),
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("precision_data")


@pytest.mark.parametrize("name", sorted(OFFICIAL_FP16))
def test_fp16_dtypes_follow_the_official_scheme(name, data_root, tmp_path):
    trainer = build(name, data_root, tmp_path, "fp16")
    clip_dtype, rules = OFFICIAL_FP16[name]
    assert trainer.clip.dtype == clip_dtype
    assert trainer.clip.model.ln_final.weight.dtype == F32 and trainer.clip.model.logit_scale.dtype == F32
    params = dict(trainer.model.prompt_learner.named_parameters())
    used = set()
    for pname, p in params.items():
        matches = [(i, dtype) for i, (pattern, dtype) in enumerate(rules) if re.fullmatch(pattern, pname)]
        assert len(matches) == 1, f"{name}: {pname} matches {len(matches)} rules"
        used.add(matches[0][0])
        assert p.dtype == matches[0][1], f"{name}: {pname} is {p.dtype}, the official scheme has {matches[0][1]}"
    assert used == set(range(len(rules))), f"{name}: rules without a parameter: {set(range(len(rules))) - used}"
    if name == "DPLSearch":
        assert {p.dtype for p in trainer.model.architecture.parameters()} == {F32}


def test_fp32_is_fp32_everywhere(data_root, tmp_path):
    for name in ("MaPLe", "CoCoOp"):
        trainer = build(name, data_root, tmp_path / name, "fp32")
        assert {p.dtype for p in trainer.model.parameters()} == {F32}


def test_maple_deeper_projections_start_as_copies_of_one_linear(data_root, tmp_path):
    """Official MaPLe clones one Linear for every deeper layer (same initial weights); layer 0 has its own."""
    projections = build("MaPLe", data_root, tmp_path, "fp32").model.prompt_learner.projections
    deep = [projections[k] for k in projections if k != "0"]
    assert len(deep) >= 2
    for other in deep[1:]:
        assert torch.equal(other.weight, deep[0].weight) and torch.equal(other.bias, deep[0].bias)
        assert other.weight is not deep[0].weight  # copies, trained independently
    assert not torch.equal(projections["0"].weight, deep[0].weight)

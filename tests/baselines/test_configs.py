"""Every baseline config merges onto the project's defaults and carries CLIP's input pipeline and the
published optimiser shape (SGD, cosine, one constant warm-up epoch at 1e-5, ViT-B/16)."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(p for d in ("CoCoOp", "IVLP", "VPT", "MaPLe", "PromptSRC")
               for p in (REPO / "configs" / "trainers" / d).glob("*.yaml"))


def test_every_baseline_has_configs():
    assert {p.parent.name for p in FILES} == {"CoCoOp", "IVLP", "VPT", "MaPLe", "PromptSRC"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_merges_with_clip_settings(path):
    from dpl.runs.config import get_cfg, merge_from_file

    cfg = get_cfg()
    merge_from_file(cfg, str(path))
    assert tuple(cfg.INPUT.SIZE) == (224, 224) and cfg.INPUT.INTERPOLATION == "bicubic"
    assert list(cfg.INPUT.PIXEL_MEAN) == [0.48145466, 0.4578275, 0.40821073]
    assert list(cfg.INPUT.TRANSFORMS) == ["random_resized_crop", "random_flip", "normalize"]
    assert (cfg.OPTIM.NAME, cfg.OPTIM.LR_SCHEDULER, cfg.OPTIM.WARMUP_EPOCH, cfg.OPTIM.WARMUP_TYPE) == \
        ("sgd", "cosine", 1, "constant")
    assert cfg.OPTIM.WARMUP_CONS_LR == 1e-5 and cfg.MODEL.BACKBONE.NAME == "ViT-B/16"
    assert cfg.DATALOADER.TRAIN_X.BATCH_SIZE == (1 if path.parent.name == "CoCoOp" else 4)


# The official extend_cfg values (KaiyangZhou/CoOp, muzairkhattak/multimodal-prompt-learning and
# muzairkhattak/PromptSRC train.py; PromptSRC's published yaml sets the same), and ours:
# LOSS_FP32 off in every node (the official losses run on the fp16 values), VPT's PROMPTS_FP32 off (rounded as
# officially). A yaml that leaves a key out gets the official value.
OFFICIAL_BASELINES = {
    "COOP": {"N_CTX": 16, "CSC": False, "CTX_INIT": "", "PREC": "fp16", "CLASS_TOKEN_POSITION": "end"},
    "COCOOP": {"N_CTX": 16, "CTX_INIT": "", "PREC": "fp16"},
    "MAPLE": {"N_CTX": 2, "CTX_INIT": "a photo of a", "PREC": "fp16", "PROMPT_DEPTH": 9},
    "IVLP": {"N_CTX_VISION": 2, "N_CTX_TEXT": 2, "CTX_INIT": "a photo of a", "PREC": "fp16",
             "PROMPT_DEPTH_VISION": 9, "PROMPT_DEPTH_TEXT": 9},
    "VPT": {"N_CTX_VISION": 2, "CTX_INIT": "a photo of a", "PREC": "fp16", "PROMPT_DEPTH_VISION": 1,
            "PROMPTS_FP32": False},
    "PROMPTSRC": {"N_CTX_VISION": 4, "N_CTX_TEXT": 4, "CTX_INIT": "a photo of a", "PREC": "fp16",
                  "PROMPT_DEPTH_VISION": 9, "PROMPT_DEPTH_TEXT": 9, "TEXT_LOSS_WEIGHT": 25, "IMAGE_LOSS_WEIGHT": 10,
                  "GPA_MEAN": 15, "GPA_STD": 1},
}


@pytest.mark.parametrize("node", sorted(OFFICIAL_BASELINES))
def test_baseline_defaults_are_the_official_ones(node):
    from dpl.runs.config import get_cfg

    c = get_cfg().TRAINER[node]
    expected = {**OFFICIAL_BASELINES[node], "LOSS_FP32": False}
    assert set(c) == set(expected)
    for key, value in expected.items():
        # the type too: yacs refuses a yaml or command-line value whose type differs from the default's
        assert (c[key], type(c[key])) == (value, type(value)), key

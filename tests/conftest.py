"""Suite-wide settings. One intra-op thread: the models under test are tiny, and on a 2-core machine two
threads contend (with each other and with the train.py subprocesses of the end-to-end tests) and run the
tiny model many times slower.

Tests marked ``cuda`` (one epoch of every trainer in fp32/fp16/amp, resumes under amp/fp16, the fused supernet in
fp16) run on CUDA when present and on the CPU otherwise, so the README's test command (what CI runs) covers them
everywhere; ``-m "not cuda"`` leaves them out, ``-m cuda`` runs only them (benchmarks/gpu_check.sh on a GPU)."""
import os

import pytest
import torch

import dpl  # noqa: F401  before any test imports clip: without pkg_resources, dpl/clip_import.py stands in

torch.set_num_threads(1)
# PREC fp16 stays fp16 on the CPU in the suite (its bit-exact checks of the official fp16 scheme run there); the
# default for users is fp32 on a CPU (dpl/method/trainer_base.py; tests/baselines/test_cpu_precision.py unsets this)
os.environ.setdefault("DPL_CPU_FP16", "1")


@pytest.fixture(scope="session")
def tiny_clip():
    """The tiny-random CLIP (fp32, frozen) wrapped for prompting, shared by the test folders."""
    from dpl.backbones.loading import build_tiny_clip
    from dpl.prompting import PromptedCLIP

    model = build_tiny_clip().float()
    model.requires_grad_(False)
    return PromptedCLIP(model)

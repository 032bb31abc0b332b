"""Suite-wide settings. One intra-op thread: the models under test are tiny, and on a 2-core machine two
threads contend (with each other and with the train.py subprocesses of the end-to-end tests) and run the
tiny model many times slower.

Tests marked ``cuda`` are skipped without a GPU; ``DPL_CUDA_TESTS_ON_CPU=1`` runs them on the CPU instead, to
check the tests themselves (benchmarks/gpu_check.sh runs them on a GPU)."""
import os

import pytest
import torch

import dpl  # noqa: F401  before any test imports clip: without pkg_resources, dpl/clip_import.py stands in

torch.set_num_threads(1)
# PREC fp16 stays fp16 on the CPU in the suite (its bit-exact checks of the official fp16 scheme run there); the
# default for users is fp32 on a CPU (dpl/trainer_base.py; tests/baselines/test_cpu_precision.py unsets this)
os.environ.setdefault("DPL_CPU_FP16", "1")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available() or os.environ.get("DPL_CUDA_TESTS_ON_CPU") == "1":
        return
    skip = pytest.mark.skip(reason="needs CUDA (benchmarks/gpu_check.sh runs these on a GPU)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)

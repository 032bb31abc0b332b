"""Device settings of the CUDA tests; trainers are built by tests/trainer_harness.py.

``DEVICE`` is CUDA when present, else the CPU (the suite runs these tests everywhere; amp on the CPU is bf16
autocast without a grad scaler).
"""
import torch
from trainer_harness import REPO, TRAINERS, build, learned_state  # noqa: F401  (re-exported for the tests)

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
PRECISIONS = ("fp32", "fp16", "amp")


def rel_err(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))

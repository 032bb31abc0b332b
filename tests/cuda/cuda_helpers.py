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


def assert_accuracy_of_the_test_split(trainer, accuracy):
    """``accuracy`` is the share of right predictions over every test image (not merely a number in [0, 100])."""
    evaluator, n = trainer.evaluator, len(trainer.dm.dataset.test)
    assert len(evaluator._y_true) == n and len(evaluator._y_pred) == n
    right = sum(t == p for t, p in zip(evaluator._y_true, evaluator._y_pred))
    assert abs(accuracy - 100.0 * right / n) < 1e-9

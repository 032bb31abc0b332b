"""Protocols as data: (protocol, dataset, shots, seed, settings) -> steps (folder, train.py arguments, marker, the
step needed), the skip / refuse decision for a step, and the protocol scripts' commands (``python -m dpl.protocol``;
scripts/dpl/*.sh are thin wrappers). The sweep plans with the same functions."""
from .decide import finished
from .settings import ProtocolError, Settings
from .steps import PROTOCOLS, Plan, Step, plan_seed

__all__ = ["PROTOCOLS", "Plan", "ProtocolError", "Settings", "Step", "finished", "plan_seed"]

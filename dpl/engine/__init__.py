"""Dassl's engine API without Dassl: ``dassl.engine`` -> ``dpl.engine``."""
from .registry import Registry
from .trainer import TRAINER_REGISTRY, SimpleTrainer, TrainerBase, TrainerX, build_trainer

__all__ = ["Registry", "TRAINER_REGISTRY", "build_trainer", "TrainerBase", "SimpleTrainer", "TrainerX"]

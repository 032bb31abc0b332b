"""``dassl.evaluation`` -> ``dpl.engine.evaluation``."""
from .build import EVALUATOR_REGISTRY, build_evaluator
from .evaluator import Classification, EvaluatorBase, macro_f1_score

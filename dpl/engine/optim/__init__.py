"""``dassl.optim`` -> ``dpl.engine.optim``."""
from .lr_scheduler import (AVAI_SCHEDS, ConstantWarmupScheduler, LinearWarmupScheduler, build_lr_scheduler)
from .optimizer import AVAI_OPTIMS, build_optimizer

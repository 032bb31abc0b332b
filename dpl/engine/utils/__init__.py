"""``dassl.utils`` -> ``dpl.engine.utils``."""
from .env import collect_env_info, git_commit
from .io import atomic_open, atomic_torch_save, listdir_nohidden, mkdir_if_missing, read_json, write_json
from .logger import setup_logger
from .meters import AverageMeter, MetricMeter
from .tools import check_isfile, read_image, set_random_seed, tolist_if_not
from .torchtools import (count_num_param, get_rng_state, load_checkpoint, load_pretrained_weights,
                         resume_from_checkpoint, save_checkpoint, set_rng_state)

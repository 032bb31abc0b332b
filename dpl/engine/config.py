"""``dassl.config`` -> ``dpl.engine.config``: Dassl's default config keys and values (the subset the CoOp
family reads, plus the keys its yaml files set), so a Dassl yaml merges without edits."""
from yacs.config import CfgNode as CN


def _input(cfg):
    cfg.INPUT = CN()
    cfg.INPUT.SIZE = (224, 224)
    cfg.INPUT.INTERPOLATION = "bilinear"  # bilinear, bicubic or nearest
    cfg.INPUT.TRANSFORMS = ()  # e.g. ("random_flip", "normalize")
    cfg.INPUT.NO_TRANSFORM = False  # images as tensors without any transform
    cfg.INPUT.PIXEL_MEAN = [0.485, 0.456, 0.406]  # ImageNet statistics (CLIP configs override them)
    cfg.INPUT.PIXEL_STD = [0.229, 0.224, 0.225]
    cfg.INPUT.CROP_PADDING = 4  # random_crop
    cfg.INPUT.RRCROP_SCALE = (0.08, 1.0)  # random_resized_crop
    cfg.INPUT.CUTOUT_N = 1
    cfg.INPUT.CUTOUT_LEN = 16
    cfg.INPUT.GN_MEAN = 0.0  # gaussian noise
    cfg.INPUT.GN_STD = 0.15
    cfg.INPUT.RANDAUGMENT_N = 2
    cfg.INPUT.RANDAUGMENT_M = 10
    cfg.INPUT.COLORJITTER_B = 0.4
    cfg.INPUT.COLORJITTER_C = 0.4
    cfg.INPUT.COLORJITTER_S = 0.4
    cfg.INPUT.COLORJITTER_H = 0.1
    cfg.INPUT.RGS_P = 0.2  # random gray scale probability
    cfg.INPUT.GB_P = 0.5  # gaussian blur probability
    cfg.INPUT.GB_K = 21  # gaussian blur kernel size


def _dataset(cfg):
    cfg.DATASET = CN()
    cfg.DATASET.ROOT = ""
    cfg.DATASET.NAME = ""
    cfg.DATASET.SOURCE_DOMAINS = ()
    cfg.DATASET.TARGET_DOMAINS = ()
    cfg.DATASET.NUM_LABELED = -1  # semi-supervised datasets only
    cfg.DATASET.NUM_SHOTS = -1  # -1: every training image
    cfg.DATASET.VAL_PERCENT = 0.1
    cfg.DATASET.STL10_FOLD = -1
    cfg.DATASET.CIFAR_C_TYPE = ""
    cfg.DATASET.CIFAR_C_LEVEL = 1
    cfg.DATASET.ALL_AS_UNLABELED = False


def _dataloader(cfg):
    cfg.DATALOADER = CN()
    cfg.DATALOADER.NUM_WORKERS = 4
    cfg.DATALOADER.K_TRANSFORMS = 1  # augmented views per image
    cfg.DATALOADER.RETURN_IMG0 = False  # also return the un-augmented image
    # Training augmentations: False = Dassl's stream (each sample draws from the global RNG of the process that loads
    # it: the main process with NUM_WORKERS 0, else the worker, seeded by torch from one draw per epoch), so a seed
    # gives the official run's images; True = every sample's own seed, drawn per epoch, the same images with any
    # NUM_WORKERS and any number of processes. Data-parallel runs always use per-sample seeds.
    cfg.DATALOADER.PER_SAMPLE_SEEDS = False
    cfg.DATALOADER.TRAIN_X = CN()
    cfg.DATALOADER.TRAIN_X.SAMPLER = "RandomSampler"
    cfg.DATALOADER.TRAIN_X.BATCH_SIZE = 32
    cfg.DATALOADER.TRAIN_X.N_DOMAIN = 0  # RandomDomainSampler: domains per batch (0 = all)
    cfg.DATALOADER.TRAIN_X.N_INS = 16  # RandomClassSampler: instances per class
    cfg.DATALOADER.TRAIN_U = CN()
    cfg.DATALOADER.TRAIN_U.SAME_AS_X = True
    cfg.DATALOADER.TRAIN_U.SAMPLER = "RandomSampler"
    cfg.DATALOADER.TRAIN_U.BATCH_SIZE = 32
    cfg.DATALOADER.TRAIN_U.N_DOMAIN = 0
    cfg.DATALOADER.TRAIN_U.N_INS = 16
    cfg.DATALOADER.TEST = CN()
    cfg.DATALOADER.TEST.SAMPLER = "SequentialSampler"
    cfg.DATALOADER.TEST.BATCH_SIZE = 32


def _optim(cfg):
    cfg.OPTIM = CN()
    cfg.OPTIM.NAME = "adam"
    cfg.OPTIM.LR = 0.0003
    cfg.OPTIM.WEIGHT_DECAY = 5e-4
    cfg.OPTIM.MOMENTUM = 0.9
    cfg.OPTIM.SGD_DAMPNING = 0
    cfg.OPTIM.SGD_NESTEROV = False
    cfg.OPTIM.RMSPROP_ALPHA = 0.99
    cfg.OPTIM.ADAM_BETA1 = 0.9
    cfg.OPTIM.ADAM_BETA2 = 0.999
    cfg.OPTIM.STAGED_LR = False  # new layers at LR, the rest at LR * BASE_LR_MULT
    cfg.OPTIM.NEW_LAYERS = ()
    cfg.OPTIM.BASE_LR_MULT = 0.1
    cfg.OPTIM.LR_SCHEDULER = "single_step"
    cfg.OPTIM.STEPSIZE = (-1,)  # -1: step at the last epoch
    cfg.OPTIM.GAMMA = 0.1
    cfg.OPTIM.MAX_EPOCH = 10
    cfg.OPTIM.WARMUP_EPOCH = -1  # <= 0: no warm-up
    cfg.OPTIM.WARMUP_TYPE = "linear"  # linear or constant
    cfg.OPTIM.WARMUP_CONS_LR = 1e-5
    cfg.OPTIM.WARMUP_MIN_LR = 1e-5
    cfg.OPTIM.WARMUP_RECOUNT = True  # the schedule after warm-up starts from its epoch 0


def _model(cfg):
    cfg.MODEL = CN()
    cfg.MODEL.INIT_WEIGHTS = ""
    cfg.MODEL.BACKBONE = CN()
    cfg.MODEL.BACKBONE.NAME = ""
    cfg.MODEL.BACKBONE.PRETRAINED = True
    cfg.MODEL.HEAD = CN()
    cfg.MODEL.HEAD.NAME = ""
    cfg.MODEL.HEAD.HIDDEN_LAYERS = ()
    cfg.MODEL.HEAD.ACTIVATION = "relu"
    cfg.MODEL.HEAD.BN = True
    cfg.MODEL.HEAD.DROPOUT = 0.0


def _train_test(cfg):
    cfg.TRAIN = CN()
    cfg.TRAIN.CHECKPOINT_FREQ = 0  # 0: save only after the last epoch
    cfg.TRAIN.CHECKPOINT_KEEP = 0  # not in Dassl: epochs of checkpoints kept per model, newest first (0: all)
    cfg.TRAIN.PRINT_FREQ = 10
    cfg.TRAIN.COUNT_ITER = "train_x"  # train_x, train_u or smaller_one
    cfg.TRAIN.TENSORBOARD = False  # not in Dassl (which always writes): summaries under OUTPUT_DIR/tensorboard
    cfg.TEST = CN()
    cfg.TEST.EVALUATOR = "Classification"
    cfg.TEST.PER_CLASS_RESULT = False
    cfg.TEST.COMPUTE_CMAT = False
    cfg.TEST.NO_TEST = False
    cfg.TEST.SPLIT = "test"  # test or val
    cfg.TEST.FINAL_MODEL = "last_step"  # last_step or best_val


def get_cfg_default():
    """A fresh (unfrozen) copy of the defaults."""
    cfg = CN()
    cfg.VERSION = 1
    cfg.OUTPUT_DIR = "./output"
    cfg.RESUME = ""  # a run directory to resume from (default: OUTPUT_DIR when it holds checkpoints)
    cfg.SEED = -1  # < 0: not seeded
    cfg.USE_CUDA = True
    cfg.VERBOSE = True
    _input(cfg)
    _dataset(cfg)
    _dataloader(cfg)
    _optim(cfg)
    _model(cfg)
    _train_test(cfg)
    cfg.TRAINER = CN()
    cfg.TRAINER.NAME = ""
    return cfg

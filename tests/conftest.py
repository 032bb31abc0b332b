"""Suite-wide settings. One intra-op thread: the models under test are tiny, and on a 2-core machine two
threads contend (with each other and with the train.py subprocesses of the end-to-end tests) and run the
tiny model many times slower."""
import torch

torch.set_num_threads(1)

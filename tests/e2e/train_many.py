"""Runs ``train.py`` once per argument list, in one process (one start-up instead of one per run): the e2e tests
that run every trainer use it. Usage: python train_many.py RUNS.json CODES.json, where RUNS.json holds a list of
argument lists; CODES.json gets each run's exit status (0, or the status of train.py's SystemExit)."""
import json
import os
import sys
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import torch  # noqa: E402

from train import cli  # noqa: E402

torch.set_num_threads(1)  # tiny models: one thread is faster than two contending ones (as in tests/conftest.py)

runs_file, codes_file = sys.argv[1:3]
with open(runs_file) as f:
    runs = json.load(f)
codes = []
for argv in runs:
    try:
        cli([str(a) for a in argv])
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code if isinstance(e.code, int) else 1)
    except Exception:  # a crash is a failed run; the next ones still run
        traceback.print_exc()
        codes.append(1)
with open(codes_file, "w") as f:
    json.dump(codes, f)

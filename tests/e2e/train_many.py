"""Runs ``train.py`` once per argument list, in one process (one start-up instead of one per run): the e2e tests
that run every trainer, or every bad input, use it. Usage: python train_many.py RUNS.json CODES.json [STDERR_DIR],
where RUNS.json holds a list of argument lists; CODES.json gets each run's exit status (0, or the status of
train.py's SystemExit); with STDERR_DIR, what run i writes to stderr goes to STDERR_DIR/i.txt (a crash's traceback
included, as a fresh process would print it)."""
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
stderr_dir = sys.argv[3] if len(sys.argv) > 3 else None
with open(runs_file) as f:
    runs = json.load(f)
codes = []
for i, argv in enumerate(runs):
    stderr, captured = sys.stderr, None
    if stderr_dir:
        sys.stderr = captured = open(os.path.join(stderr_dir, f"{i}.txt"), "w")
    try:
        cli([str(a) for a in argv])
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code if isinstance(e.code, int) else 1)
    except Exception:  # a crash is a failed run; the next ones still run
        traceback.print_exc()
        codes.append(1)
    finally:
        sys.stderr = stderr
        if captured is not None:
            captured.close()
with open(codes_file, "w") as f:
    json.dump(codes, f)

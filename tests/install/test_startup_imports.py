"""What every start of ``train.py`` pays for before its first line of work: matplotlib (about half a second) is loaded
by the one step that draws (the end of a search, the parse script's heatmap), not by setting up a run. Dozens of runs
in a protocol sweep, and the suite's end-to-end tests, start train.py anew each time."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# train.py's set-up without a dataset: the parser, every trainer and dataset registered, the default config built
SET_UP_A_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import train
from dpl.runs.config import get_cfg
import trainers, datasets
train.build_parser()
get_cfg()
import trainers.dpl_search
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")
print("loaded:", loaded[:5])
sys.exit(1 if loaded else 0)
"""


def test_setting_up_a_run_does_not_load_matplotlib():
    proc = subprocess.run([sys.executable, "-c", SET_UP_A_RUN, str(REPO)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]

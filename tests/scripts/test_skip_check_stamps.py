"""A finished step's skip check in one process without torch (dpl/protocol/stamps.py): the first check of a finished
run builds its fingerprint (torch, trainers, datasets) and leaves a stamp; the next one answers from the stamp without
importing torch; a changed file the fingerprint read (the split file here) sends it back to the full check, which
refuses the folder as another configuration's."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SETUP = """
import json, sys
from dpl.protocol import Settings, plan_seed
settings = Settings(data=sys.argv[1], output=sys.argv[2], backbone="tiny-random", trainer="CoOp",
                    opts=("DATALOADER.NUM_WORKERS", "0"), python=(sys.executable,))
step = plan_seed("fewshot", "demo", 2, 1, settings).step("train")
"""
WRITE_FINISHED = SETUP + """
import os
from dpl.runs.config import setup_cfg
from dpl.runs.run_identity import run_fingerprint
from dpl.testing import make_fake_dataset
from dpl.runs.train_args import parse_args
make_fake_dataset("Demo", sys.argv[1])
args = parse_args(step.args)
os.makedirs(step.run_dir)
with open(step.marker, "w") as f:
    json.dump({"accuracy": 50.0, "fingerprint": run_fingerprint(setup_cfg(args))}, f)
"""
CHECK = SETUP + """
from dpl.protocol import finished
from dpl.runs.run_identity import OtherRunError
try:
    answer = finished(step, settings)
except OtherRunError as e:
    answer = "refused: " + str(e)
print(json.dumps({"finished": answer, "torch": "torch" in sys.modules}))
"""


def python(code, *args):
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_second_check_of_a_finished_step_needs_no_torch_and_a_changed_file_is_noticed(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    python(WRITE_FINISHED, data, out)
    first = json.loads(python(CHECK, data, out))
    assert first == {"finished": True, "torch": True}  # the full check
    assert len(list(out.rglob(".skip_check.json"))) == 1
    second = json.loads(python(CHECK, data, out))
    assert second == {"finished": True, "torch": False}  # from the stamp

    split = next(data.rglob("split_*.json"))
    split.write_text(split.read_text() + " ")  # the same splits, another file: another hash
    third = json.loads(python(CHECK, data, out))
    assert third["torch"] and third["finished"].startswith("refused: ") and "dataset." in third["finished"]


"""train.py end to end on the generated Demo dataset with the tiny-random CLIP: the log and checkpoint
contract CoOp's tools read, results.json, eval-only, and resume after a kill."""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_helpers import FAST_OPTS, REPO, demo_args, run_train


def coop_parse_accuracy(log_text):
    """What CoOp's own parse_test_res.py does: after the line "Finish training", take `* accuracy: X%`."""
    started = False
    for line in log_text.splitlines():
        if line.strip() == "Finish training":
            started = True
        if started:
            m = re.search(r"\* accuracy: ([\.\deE+-]+)%", line)
            if m:
                return float(m.group(1))
    return None


# four epochs with a checkpoint after each: the straight run that the killed one must end equal to
COOP_OPTS = [*FAST_OPTS, "OPTIM.MAX_EPOCH", "4", "TRAIN.CHECKPOINT_FREQ", "1"]


@pytest.fixture(scope="module")
def coop_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("coop") / "seed1"
    proc = run_train(*demo_args(data_root, out), *COOP_OPTS)
    return out, proc


def test_coop_writes_dassl_log_checkpoints_and_results(coop_run):
    out, proc = coop_run
    log = (out / "log.txt").read_text()
    assert re.search(r"epoch \[1/4\] batch \[\d+/\d+\] time [\d.]+ \([\d.]+\) data [\d.]+ \([\d.]+\) "
                     r"loss [\d.]+ \([\d.]+\) acc [\d.]+ \([\d.]+\) lr [\d.e+-]+ eta [\d:]+", log)
    for line in ("Finish training", "=> result"):
        assert line in log.splitlines()
    for key in ("total", "correct", "accuracy", "error", "macro_f1"):
        assert re.search(rf"^\* {key}: [\d.,]+%?$", log, re.M), key
    acc = coop_parse_accuracy(log)
    total, correct = (int(re.search(rf"^\* {key}: ([\d,]+)$", log, re.M).group(1).replace(",", ""))
                      for key in ("total", "correct"))
    assert total > 0 and acc == pytest.approx(100.0 * correct / total, abs=0.01)  # the accuracy of these predictions
    # the run records itself at the top of the log
    head = log[:20000]
    assert "train.py" in head and "DATASET" in head and "torch" in head
    ckpt_dir = out / "prompt_learner"
    assert (ckpt_dir / "model.pth.tar-4").is_file()
    assert (ckpt_dir / "checkpoint").read_text().strip() == "model.pth.tar-4"
    results = json.loads((out / "results.json").read_text())
    assert results["accuracy"] == pytest.approx(acc, abs=0.01)
    assert results["seed"] == 1 and results["shots"] == 2 and results["trainer"] == "CoOp"
    assert results["dataset"] == "Demo" and results["elapsed"] > 0


def test_checkpoint_holds_only_the_context(coop_run):
    import torch
    out, _ = coop_run
    state = torch.load(out / "prompt_learner" / "model.pth.tar-4", map_location="cpu", weights_only=True)
    assert list(state["state_dict"]) == ["ctx"]
    assert {"epoch", "optimizer", "scheduler"} <= set(state)


def test_eval_only_reproduces_the_final_accuracy(coop_run, data_root, tmp_path):
    out, _ = coop_run
    expected = json.loads((out / "results.json").read_text())["accuracy"]
    eval_dir = tmp_path / "eval"
    run_train(*demo_args(data_root, eval_dir), "--eval-only", "--model-dir", out, "--load-epoch", 4, *COOP_OPTS)
    got = json.loads((eval_dir / "results.json").read_text())
    assert got["accuracy"] == pytest.approx(expected, abs=1e-6)
    assert got["eval_only"] is True


def test_zeroshot_clip_eval_only(data_root, tmp_path):
    out = tmp_path / "zs"
    run_train(*demo_args(data_root, out, "ZeroshotCLIP", "configs/trainers/ZeroshotCLIP/vit_b16.yaml"),
              "--eval-only", *FAST_OPTS)
    log = (out / "log.txt").read_text()
    assert "=> result" in log
    assert not (out / "prompt_learner").exists()


def test_seed_zero_is_refused_with_the_official_meaning(data_root, tmp_path):
    """The official train.py ignores --seed 0 (`if args.seed:`); here it is refused, and SEED 0 in the options seeds."""
    proc = run_train(*demo_args(data_root, tmp_path / "z", seed=0), *FAST_OPTS, check=False)
    assert proc.returncode == 2
    assert "--seed 0" in proc.stderr and "if args.seed:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "z" / "results.json").exists()
    out = tmp_path / "s0"
    run_train(*demo_args(data_root, out, seed=-1), *FAST_OPTS, "OPTIM.MAX_EPOCH", "1", "SEED", "0")
    assert "Setting fixed seed: 0" in (out / "log.txt").read_text()


def test_killed_run_resumes_to_the_same_result(coop_run, data_root, tmp_path):
    straight, _ = coop_run

    killed = tmp_path / "killed"
    cmd = [sys.executable, str(REPO / "train.py"), *map(str, demo_args(data_root, killed)), *COOP_OPTS]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = killed / "prompt_learner" / "model.pth.tar-1"
    deadline = time.time() + 240
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists()
    assert not (killed / "results.json").exists(), "the run finished before it could be killed"

    proc = run_train(*demo_args(data_root, killed), *COOP_OPTS)
    log = (killed / "log.txt").read_text()
    assert "resume" in log.lower()
    a = json.loads((straight / "results.json").read_text())
    b = json.loads((killed / "results.json").read_text())
    assert b["accuracy"] == a["accuracy"] and b["macro_f1"] == a["macro_f1"]
    import torch
    wa = torch.load(straight / "prompt_learner" / "model.pth.tar-4", weights_only=True)["state_dict"]["ctx"]
    wb = torch.load(killed / "prompt_learner" / "model.pth.tar-4", weights_only=True)["state_dict"]["ctx"]
    assert torch.equal(wa, wb)
    # the interrupted run's log is kept next to the new one
    assert len(list(killed.glob("log.txt*"))) >= 2

"""The sweep's report table never prints a refused job's old result as a plain number (issue 21 item 1): a sweep
asked for another configuration than the one its folders hold shows the cell marked, with a note naming the seed."""
import json
from types import SimpleNamespace

from dpl.sweep.cli import print_tables


def _finished(run_dir, acc):
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"accuracy": acc, "fingerprint": {"config.SEED": 1}}))


def test_refused_job_is_marked_in_the_report_table(tmp_path, capfd):
    old = tmp_path / "demo" / "DPL" / "tiny_random_ep40_2shots" / "seed1"
    ok = tmp_path / "demo" / "CoOp" / "tiny_random_ep40_2shots" / "seed1"
    _finished(old, 61.25)
    _finished(ok, 55.5)
    jobs = [SimpleNamespace(run_dir=str(old), step="train", protocol="fewshot", conflict="holds OPTIM.MAX_EPOCH 1"),
            SimpleNamespace(run_dir=str(ok), step="train", protocol="fewshot", conflict="")]
    print_tables(SimpleNamespace(protocol="fewshot", output=str(tmp_path)), jobs)
    out = capfd.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| demo"))
    assert "61.25" not in out and "refused [1]" in row and "55.50 (1 seed)" in row
    assert "seed1: holds another configuration's run (refused)" in out

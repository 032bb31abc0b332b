"""Two learning rates in one OUTPUT: both run (the second is not refused as "another configuration"), each in its
own folder named by its OPTS, and the table reports both (issue 21, item 2)."""
import subprocess
import sys

from e2e_helpers import REPO, run_script


def test_two_opts_variants_coexist_in_one_output_and_both_reach_the_table(data_root, tmp_path):
    fast = "OPTIM.MAX_EPOCH 1 DATALOADER.NUM_WORKERS 0 DATALOADER.TEST.BATCH_SIZE 16"
    env = {"DATA": str(data_root), "OUTPUT": str(tmp_path), "BACKBONE": "tiny-random", "SEEDS": "1", "TRAINER": "CoOp"}
    run_script("main.sh", "demo", 2, env={**env, "OPTS": fast})
    run_script("main.sh", "demo", 2, env={**env, "OPTS": f"{fast} OPTIM.LR 0.01"})
    runs = sorted(p.parent.parent.name for p in tmp_path.glob("demo/CoOp/*/seed1/results.json"))
    assert runs == ["tiny_random_ep1_2shots_nolayout_batchsize16",
                    "tiny_random_ep1_2shots_nolayout_batchsize16_lr0.01"]
    again = run_script("main.sh", "demo", 2, env={**env, "OPTS": f"{fast} OPTIM.LR 0.01"})
    assert "skip" in again.stdout.lower()  # the scripts find the variant again
    table = subprocess.run([sys.executable, str(REPO / "parse_test_res.py"), "--table", str(tmp_path)],
                           capture_output=True, text=True, check=True).stdout
    header = next(line for line in table.splitlines() if line.startswith("| Dataset"))
    assert all(f"CoOp/{name}" in header for name in runs), table
    row = next(line for line in table.splitlines() if line.startswith("| demo"))
    assert row.count("(1 seed") == 2, table

"""Data-parallel search with ``ALPHA_BATCHES cycle`` and a validation split that does not fill its last batch
(issue 17, item 3): the ranks split that last batch in a way one process does not reproduce, so the combination is
refused by name before anything is trained or written."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_two_processes_with_cycle_and_an_uneven_last_val_batch_are_refused(tmp_path):
    from dpl.testing import make_fake_dataset

    make_fake_dataset("Demo", tmp_path / "data")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py",
         "--root", str(tmp_path / "data"), "--output-dir", str(out), "--seed", "1", "--backbone", "tiny-random",
         "--trainer", "DPLSearch", "--config-file", "configs/trainers/DPL/search.yaml",
         "--dataset-config-file", "configs/datasets/demo.yaml", "DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "1",
         "DATALOADER.NUM_WORKERS", "0", "TRAINER.DPL.MAX_LENGTH", "2", "TRAINER.DPL.ALPHA_BATCHES", "cycle",
         "DATALOADER.TEST.BATCH_SIZE", "7"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO})
    assert proc.returncode != 0, proc.stdout[-2000:]
    # each process's own report is the one-paragraph error (torchrun then adds its summary of the failed processes)
    assert "Error: TRAINER.DPL.ALPHA_BATCHES cycle with 2 data-parallel processes" in proc.stderr
    assert not (out / "layout.json").exists()

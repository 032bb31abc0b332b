"""SLURM submission with stub sbatch / srun / sacct on PATH (no cluster here): one job per run, dependencies as
afterok on the job ids of the steps it needs, the partition and time limit; a second invocation submits nothing
that is still queued."""
import json
import os
import re
from pathlib import Path

from sweep_helpers import FAST, run_sweep

STUBS = {
    "sbatch": '#!/usr/bin/env bash\nn=$(( $(cat "$STUB_DIR/count" 2>/dev/null || echo 100) + 1 ))\n'
              'echo "$n" > "$STUB_DIR/count"\necho "$@" >> "$STUB_DIR/calls"\necho "Submitted batch job $n"\n',
    "srun": "#!/usr/bin/env bash\nexit 0\n",
    # every job the stub ever submitted is pending
    "sacct": '#!/usr/bin/env bash\necho "JobID|State|NodeList"\n'
             'for i in $(seq 101 "$(cat "$STUB_DIR/count")"); do echo "$i|PENDING|None"; done\n',
}


def stub_path(tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    for name, text in STUBS.items():
        (stub / name).write_text(text)
        (stub / name).chmod(0o755)
    return stub


def test_slurm_jobs_carry_their_dependencies(sweep_data, tmp_path):
    stub = stub_path(tmp_path)
    output = tmp_path / "out"
    path = f"{stub}{os.pathsep}{os.environ['PATH']}"
    args = ["--cluster", "slurm", "--datasets", "demo", "--seeds", "1", "2", "--trainers", "DPL", "CoOp",
            "--slurm-partition", "gpu", "--timeout-min", "90", "--gpus-per-job", "2", "--cpus-per-job", "3", *FAST]
    first = run_sweep(sweep_data, output, *args, PATH=path, STUB_DIR=str(stub))
    assert (stub / "calls").read_text().count("\n") == 6  # 2 searches, 2 DPL, 2 CoOp
    folder = next(output.glob(".sweeps/*/submitit"))
    scripts = {int(p.name.split("_")[0]): p.read_text() for p in folder.glob("*_submission.sh")}
    assert sorted(scripts) == list(range(101, 107))
    searches = {i for i, s in scripts.items() if "--job-name=dpl-search" in s}
    assert len(searches) == 2
    for i, text in scripts.items():
        assert "#SBATCH --partition=gpu" in text and "#SBATCH --time=90" in text
        assert "#SBATCH --gpus-per-node=2" in text and "#SBATCH --cpus-per-task=3" in text
        dep = re.search(r"#SBATCH --dependency=afterok:(\d+)", text)
        if "--job-name=dpl-train" in text and dep:
            assert int(dep.group(1)) in searches
    deps = [re.search(r"--dependency=afterok:(\d+)", s) for s in scripts.values()]
    assert sum(d is not None for d in deps) == 2  # the DPL trains wait for their search; CoOp needs none
    # each DPL train waits for its own seed's search, not any search (run folders end in seed<S>)
    state = json.loads(next(output.glob(".sweeps/*/state.json")).read_text())
    run_dir_of = {int(entry["job_id"]): run_dir for run_dir, entry in state.items()}
    pairs = [(run_dir_of[i], run_dir_of[int(d.group(1))]) for i, d in
             ((i, re.search(r"--dependency=afterok:(\d+)", t)) for i, t in scripts.items()) if d]
    assert len(pairs) == 2 and all("DPLSearch" in search and Path(train).name == Path(search).name
                                   for train, search in pairs), pairs
    assert "submitted: fewshot train demo 2-shot seed1 DPL as SLURM job" in first.stdout

    second = run_sweep(sweep_data, output, *args, PATH=path, STUB_DIR=str(stub))
    assert (stub / "calls").read_text().count("\n") == 6  # nothing submitted twice
    assert second.stdout.count("already queued or running") == 6
    assert "6 running" in second.stdout

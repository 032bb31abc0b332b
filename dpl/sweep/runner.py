"""Runs a sweep's jobs on submitit: its LocalExecutor on a workstation (one job per GPU, or CPU jobs with a thread
budget each) or its SLURM executor on a cluster (one job per run, dependencies as ``afterok``).

What was submitted is recorded in ``<output>/.sweeps/<name>/state.json`` (written atomically), so a runner killed
at any moment and started again re-attaches to jobs still running (their process on this machine, their SLURM id),
never starts a second copy of a job that is alive, skips finished ones (their ``results.json`` / ``layout.json``,
as the scripts do) and resubmits the rest, which resume from their checkpoints.
"""
import os
import time

from dpl.file_io import read_json, write_json

LOCAL_POLL_S = 1.0


def job_env(job, threads=None):
    """The job's settings, with an intra-op thread budget for CPU jobs (submitit sets the GPUs)."""
    env = dict(job.env)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


class SweepState:
    """``{run_dir: {"job_id", "cluster", "status", "log"}}`` of the jobs this sweep submitted."""

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, "state.json")
        self.jobs = read_json(self.path) if os.path.isfile(self.path) else {}

    def record(self, key, **fields):
        self.jobs[key] = {**self.jobs.get(key, {}), **fields}
        write_json(self.jobs, self.path, indent=1)


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    try:  # a reused pid would belong to another program
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            return b"submitit" in f.read()
    except OSError:
        return True


def _slurm_state(folder, job_id):
    import submitit

    try:
        return submitit.SlurmJob(folder=os.path.join(folder, "submitit"), job_id=str(job_id)).state
    except Exception:  # no sacct here, or the accounting has no trace of it
        return "UNKNOWN"


SLURM_ALIVE = ("PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING")


def alive(state, job):
    """Whether the recorded submission of ``job`` is still queued or running."""
    entry = state.jobs.get(job.key)
    if not entry or entry.get("status") != "submitted":
        return False
    if entry["cluster"] == "local":
        return _pid_alive(entry["job_id"])
    return _slurm_state(state.folder, entry["job_id"]).split()[0].upper() in SLURM_ALIVE


def counts(jobs, state):
    """done / running / failed / pending over ``jobs``."""
    out = {"done": 0, "running": 0, "failed": 0, "pending": 0}
    for job in jobs:
        if job.is_finished():
            out["done"] += 1
        elif alive(state, job):
            out["running"] += 1
        elif job.conflict or state.jobs.get(job.key, {}).get("status") == "failed":
            out["failed"] += 1
        else:
            out["pending"] += 1
    return out


def _command(job, env):
    """The job as submitit runs it: ``python -m dpl.protocol step`` from the repository root, its output in the
    job's log files."""
    import submitit

    from .plan import REPO, script_env

    return submitit.helpers.CommandFunction(job.command, cwd=str(REPO), env=script_env(env), verbose=True)


def run_local(jobs, state, max_parallel, gpus=(), gpus_per_job=1, threads=None, timeout_min=60 * 24 * 7, log=print):
    """Run ``jobs`` here, at most ``max_parallel`` at a time (one per GPU group when ``gpus`` are given), each only
    after its dependencies finished; a failed job is recorded and its dependents are not started."""
    import submitit

    executor = submitit.LocalExecutor(folder=os.path.join(state.folder, "submitit"))
    by_key = {j.key: j for j in jobs}
    groups = [tuple(gpus[i:i + gpus_per_job]) for i in range(0, len(gpus) - gpus_per_job + 1, gpus_per_job)]
    free = list(groups) if groups else None
    slots = len(groups) if groups else max_parallel
    running = {}  # key -> (submitit job or None when re-attached to an earlier runner's process, gpu group)
    failed = set()

    for job in jobs:  # jobs an earlier runner started that are still alive: wait for them, never start a copy
        if not job.is_finished() and alive(state, job):
            log(f"[sweep] still running from an earlier runner: {job.label} (pid {state.jobs[job.key]['job_id']})")
            running[job.key] = (None, None)

    for job in jobs:  # folders holding another configuration's run: refused, as the scripts refuse them
        if job.conflict:
            failed.add(job.key)
            state.record(job.key, status="failed", log=job.conflict)
            log(f"[sweep] refused: {job.label}: {job.conflict}")

    def blocked(job):
        return any(d in failed for d in job.deps)

    while True:
        for key, (sjob, group) in list(running.items()):
            done = (not alive(state, by_key[key])) if sjob is None else sjob.done()
            if not done:
                continue
            del running[key]
            if group is not None:
                free.append(group)
            job = by_key[key]
            if job.is_finished():
                state.record(key, status="done")
                log(f"[sweep] done: {job.label}")
            else:
                failed.add(key)
                state.record(key, status="failed")
                log(f"[sweep] FAILED: {job.label}; log: {state.jobs[key].get('log', '?')} (and {job.run_dir}/log.txt)")
        todo = [j for j in jobs if not j.is_finished() and j.key not in running and j.key not in failed]
        for job in todo:
            if blocked(job) and job.key not in failed:
                failed.add(job.key)
                state.record(job.key, status="failed", log=f"not run: a job it needs failed ({', '.join(job.deps)})")
                log(f"[sweep] not run (a job it needs failed): {job.label}")
        ready = [j for j in todo if not blocked(j) and all(by_key[d].is_finished() for d in j.deps)]
        for job in ready:
            if len(running) >= slots:
                break
            group = free.pop(0) if free is not None else None
            params = {"timeout_min": timeout_min}
            if group is not None:
                params.update(gpus_per_node=len(group), visible_gpus=group)
            executor.update_parameters(**params)
            sjob = executor.submit(_command(job, job_env(job, threads)))
            running[job.key] = (sjob, group)
            state.record(job.key, job_id=sjob.job_id, cluster="local", status="submitted",
                         log=str(sjob.paths.stdout))
            log(f"[sweep] started: {job.label}" + (f" on GPU {','.join(map(str, group))}" if group else ""))
        if not running:
            break
        time.sleep(LOCAL_POLL_S)
    return failed


def run_slurm(jobs, state, partition="", timeout_min=24 * 60, gpus_per_job=1, cpus_per_job=8, log=print):
    """Submit every unfinished job to SLURM at once, each with ``afterok`` on the jobs it needs that are not
    finished yet; jobs still queued or running from an earlier submission are kept, not submitted again."""
    import submitit

    executor = submitit.AutoExecutor(folder=os.path.join(state.folder, "submitit"), cluster="slurm")
    submitted, refused = {}, set()
    for job in jobs:
        if job.is_finished():
            continue
        if job.conflict or any(d in refused for d in job.deps):
            refused.add(job.key)
            why = job.conflict or "not submitted: a job it needs was refused"
            state.record(job.key, status="failed", log=why)
            log(f"[sweep] refused: {job.label}: {why}")
            continue
        if alive(state, job):
            submitted[job.key] = state.jobs[job.key]["job_id"]
            log(f"[sweep] already queued or running: {job.label} (SLURM job {submitted[job.key]})")
            continue
        waits = [submitted[d] for d in job.deps if d in submitted]
        params = dict(timeout_min=timeout_min, slurm_gpus_per_node=gpus_per_job, cpus_per_task=cpus_per_job,
                      name=f"dpl-{job.step}", slurm_additional_parameters={})
        if partition:
            params["slurm_partition"] = partition
        if waits:
            params["slurm_additional_parameters"]["dependency"] = "afterok:" + ":".join(map(str, waits))
        executor.update_parameters(**params)
        sjob = executor.submit(_command(job, job_env(job)))
        submitted[job.key] = sjob.job_id
        state.record(job.key, job_id=sjob.job_id, cluster="slurm", status="submitted", log=str(sjob.paths.stdout))
        log(f"[sweep] submitted: {job.label} as SLURM job {sjob.job_id}" + (f" after {', '.join(waits)}" if waits else ""))
    return submitted

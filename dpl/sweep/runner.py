"""Runs a sweep's jobs on submitit: its LocalExecutor on a workstation (one job per GPU, or CPU jobs with a thread
budget each) or its SLURM executor on a cluster (one job per run, dependencies as ``afterok``).

What was submitted is recorded in ``<output>/.sweeps/<name>/state.json`` (written atomically), so a runner killed
at any moment and started again re-attaches to jobs still running (their process on this machine, their SLURM id),
never starts a second copy of a job that is alive, skips finished ones (their ``results.json`` / ``layout.json``,
as the scripts do) and resubmits the rest, which resume from their checkpoints.
"""
import contextlib
import fcntl
import os
import time
import uuid

from dpl.errors import ConfigError
from dpl.file_io import read_json, write_json

LOCAL_POLL_S = 1.0
TOKEN_ENV = "DPL_SWEEP_JOB"  # a job's token, in its processes' environment: found again after a runner was killed


def job_env(job, threads=None, token=""):
    """The job's settings, with an intra-op thread budget for CPU jobs (submitit sets the GPUs) and its token."""
    env = dict(job.env)
    if token:
        env[TOKEN_ENV] = token
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

    def intend(self, key, cluster):
        """Before a submission: what will find the job again if this runner dies before it records the job's id."""
        token = uuid.uuid4().hex[:12]
        self.record(key, status="starting", cluster=cluster, token=token, job_id=None)
        return token

    def lock(self):
        """Hold this sweep for this runner (until it exits); ConfigError when another runner holds it."""
        os.makedirs(self.folder, exist_ok=True)
        self._lock = open(os.path.join(self.folder, "runner.lock"), "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "unknown"
            self._lock.close()
            raise ConfigError(f"another runner (pid {holder}) is running this sweep ({self.folder}); two runners would "
                              "start its jobs twice. Wait for it to end, follow it with --status, or stop it first.")
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(str(os.getpid()))
        self._lock.flush()


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


@contextlib.contextmanager
def _in_environ(key, value):
    os.environ[key] = value
    try:
        yield
    finally:
        os.environ.pop(key, None)


def _token_alive(token):
    """Whether a process of this machine carries the job token ``token`` in its environment."""
    needle = f"{TOKEN_ENV}={token}".encode()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    return True
        except OSError:
            continue
    return False


def slurm_name(job, token):
    return f"dpl-{job.step}-{token}"


def _slurm_job_named(name):
    """The id of the SLURM job called ``name`` (a runner killed between sbatch and recording the id), or None."""
    import subprocess

    try:
        out = subprocess.run(["squeue", "--noheader", "--format=%i", f"--name={name}"], capture_output=True,
                             text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0] if out else None


def alive(state, job):
    """Whether the recorded submission of ``job`` is still queued or running (also one an earlier runner started but
    was killed before recording: found by its token)."""
    entry = state.jobs.get(job.key)
    if entry and entry.get("status") == "starting":
        if entry.get("cluster") == "slurm":
            job_id = _slurm_job_named(slurm_name(job, entry.get("token", "")))
            if job_id:  # adopt it: its id is what the jobs that need it wait for
                state.record(job.key, job_id=job_id, status="submitted")
            return job_id is not None
        return _token_alive(entry.get("token", ""))
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


def error_line(log_path):
    """The last one-line ``Error: ...`` (train.py, dpl.protocol) in a job's stderr log, or ""."""
    try:
        with open(log_path, errors="replace") as f:
            lines = [line.strip() for line in f if line.lstrip().startswith(("Error:", "ERROR:"))]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def failure(entry):
    """Why a failed job failed, in one line: its error and its stderr log (``..._log.err``), or the refusal."""
    log = entry.get("log", "")
    if not log.endswith(("_log.err", "_log.out")):
        return log  # a refusal or "not run: a job it needs failed"
    log = log[:-len("_log.out")] + "_log.err" if log.endswith("_log.out") else log  # states of earlier versions
    error = error_line(log)
    return f"{error} (log: {log})" if error else f"log: {log}"


def _command(job, env):
    """The job as submitit runs it: ``python -m dpl.protocol step`` from the repository root, its output in the
    job's log files."""
    import submitit

    from .plan import REPO, script_env

    return submitit.helpers.CommandFunction(job.command, cwd=str(REPO), env=script_env(env), verbose=True)


def run_local(jobs, state, max_parallel, gpus=(), gpus_per_job=1, threads=None, timeout_min=60 * 24 * 7, log=print,
              jobs_per_gpu=1):
    """Run ``jobs`` here, at most ``max_parallel`` at a time (``jobs_per_gpu`` per GPU group when ``gpus`` are given:
    a batch-4 job leaves most of a large GPU idle), each only after its dependencies finished; a failed job is
    recorded and its dependents are not started."""
    import submitit

    executor = submitit.LocalExecutor(folder=os.path.join(state.folder, "submitit"))
    by_key = {j.key: j for j in jobs}
    groups = [tuple(gpus[i:i + gpus_per_job]) for i in range(0, len(gpus) - gpus_per_job + 1, gpus_per_job)]
    groups = [g for g in groups for _ in range(jobs_per_gpu)]  # each group is a slot K times
    started_on = {}  # GPU group -> jobs started there
    free = list(groups) if groups else None
    slots = len(groups) if groups else max_parallel
    running = {}  # key -> (submitit job or None when re-attached to an earlier runner's process, gpu group)
    failed = set()

    for job in jobs:  # jobs an earlier runner started that are still alive: wait for them, never start a copy
        if not job.is_finished() and alive(state, job):
            pid = state.jobs[job.key].get("job_id") or "not recorded"
            log(f"[sweep] still running from an earlier runner: {job.label} (pid {pid})")
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
                log(f"[sweep] FAILED: {job.label}: {failure(state.jobs[key])} (and {job.run_dir}/log.txt)")
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
            token = state.intend(job.key, "local")
            with _in_environ(TOKEN_ENV, token):  # submitit's worker process carries it from its first instant
                sjob = executor.submit(_command(job, job_env(job, threads, token)))
            running[job.key] = (sjob, group)
            if group is not None:
                started_on[group] = started_on.get(group, 0) + 1
            state.record(job.key, job_id=sjob.job_id, cluster="local", status="submitted",
                         log=str(sjob.paths.stderr))
            log(f"[sweep] started: {job.label}" + (f" on GPU {','.join(map(str, group))}" if group else ""))
        if not running:
            break
        time.sleep(LOCAL_POLL_S)
    if started_on:
        log(f"[sweep] jobs per GPU (up to {jobs_per_gpu} at once): "
            + ", ".join(f"GPU {','.join(map(str, g))}: {n}" for g, n in sorted(started_on.items())))
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
            log(f"[sweep] already queued or running: {job.label} (SLURM job {submitted[job.key] or 'not recorded'})")
            continue
        waits = [submitted[d] for d in job.deps if d in submitted]
        token = state.intend(job.key, "slurm")
        params = dict(timeout_min=timeout_min, slurm_gpus_per_node=gpus_per_job, cpus_per_task=cpus_per_job,
                      name=slurm_name(job, token), slurm_additional_parameters={})
        if partition:
            params["slurm_partition"] = partition
        if waits:
            params["slurm_additional_parameters"]["dependency"] = "afterok:" + ":".join(map(str, waits))
        executor.update_parameters(**params)
        sjob = executor.submit(_command(job, job_env(job, token=token)))
        submitted[job.key] = sjob.job_id
        state.record(job.key, job_id=sjob.job_id, cluster="slurm", status="submitted", log=str(sjob.paths.stderr))
        log(f"[sweep] submitted: {job.label} as SLURM job {sjob.job_id}" + (f" after {', '.join(waits)}" if waits else ""))
    return submitted

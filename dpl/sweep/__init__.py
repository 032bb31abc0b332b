"""Protocol sweeps (datasets x shots x seeds x trainers, search -> train -> test) on submitit: local GPUs or
CPUs, or SLURM. ``python -m dpl.sweep --help``."""

"""The protocol scripts' settings, read once from their environment variables (README "The protocols").

Relative DATA / OUTPUT / LAYOUT / CONFIG_ROOT paths are relative to where the user typed the command
(``DPL_CALLER_PWD``, set by the scripts); runs start from the repository root.
"""
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dpl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


class ProtocolError(ConfigError):
    """A setting or argument of a protocol script that cannot be run (the scripts exit 2 with it)."""


def default_python():
    return "python" if shutil.which("python") else "python3"


def abs_from(caller, path):
    """A user-given path as the scripts always wrote it: absolute ones kept, others joined to the caller's folder."""
    return path if path.startswith("/") else f"{caller}/{path}"


@dataclass
class Settings:
    data: str
    output: str
    backbone: str = "ViT-B/16"
    seeds: tuple = (1, 2, 3)
    trainer: str = "DPL"
    fixed: bool = False
    cfg: str = ""  # CFG: a trainer config name; "" = the trainer's published one
    search_cfg: str = ""  # "" = search (or search_fixed)
    layout: str = ""  # "" = the trainer's default (searched, none for input-level baselines)
    python: tuple = (sys.executable,)  # the interpreter (with its arguments) that runs train.py
    opts: tuple = ()
    config_root: str = "configs"
    nproc: int = 1
    load_epoch: str = ""
    xd_source: str = "imagenet"
    caller: str = field(default_factory=os.getcwd)

    def __post_init__(self):
        self.opts = tuple(map(str, self.opts))
        if len(self.opts) % 2:
            raise ProtocolError(f"OPTS must hold KEY VALUE pairs, got an odd number of words: '{' '.join(self.opts)}'")
        if not self.search_cfg:
            self.search_cfg = "search" + self.fixed_suffix

    @property
    def fixed_suffix(self):
        return "_fixed" if self.fixed else ""

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        caller = env.get("DPL_CALLER_PWD") or os.getcwd()

        def path(name, default):
            value = env.get(name, "")
            return abs_from(caller, value) if value else default

        nproc = env.get("NPROC", "1") or "1"
        if not re.fullmatch(r"[1-9][0-9]*", nproc):
            raise ProtocolError(f"NPROC must be a number of processes (1 or more), got '{nproc}'")
        seeds = env.get("SEEDS", "1 2 3").split()  # checked by the protocols that use them
        return cls(data=path("DATA", str(REPO / "data")), output=path("OUTPUT", str(REPO / "output")),
                   backbone=env.get("BACKBONE") or "ViT-B/16", seeds=tuple(seeds),
                   trainer=env.get("TRAINER") or "DPL", fixed=env.get("FIXED", "0") == "1", cfg=env.get("CFG", ""),
                   search_cfg=env.get("SEARCH_CFG", ""), layout=env.get("LAYOUT", ""),
                   python=tuple((env.get("PYTHON") or default_python()).split()),
                   opts=tuple(env.get("OPTS", "").split()),
                   config_root=path("CONFIG_ROOT", "configs"), nproc=int(nproc), load_epoch=env.get("LOAD_EPOCH", ""),
                   xd_source=env.get("XD_SOURCE") or "imagenet", caller=caller)


def check_number(name, value, what="a number of shots per class"):
    if not re.fullmatch(r"[0-9]+", str(value)):
        raise ProtocolError(f"{name} must be {what}, got '{value}'")
    return int(value)

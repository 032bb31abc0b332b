"""(protocol, dataset, shots, seed, settings) -> the steps of one seed: run folder, train.py arguments, the file
that marks it finished, the step it needs. The one place that knows run-folder names and how steps chain; the
protocol scripts and the sweep both plan with it, so they share folders and skip rules.

Folders (OUTPUT = settings.output; names as the scripts have always written them):
  fewshot   OUTPUT/<dataset>/DPLSearch/<search>_<K>shots/seed<S>, OUTPUT/<dataset>/<trainer>/<cfg>_<K>shots<tag>/seed<S>
  base2new  OUTPUT/base2new/{search_base,train_base,test_new}/<dataset>/shots_<K>/<trainer>/<cfg><tag>/seed<S>
  xd        OUTPUT/xd/{search,train}/<source>/shots_<K>/...  and  OUTPUT/xd/test/<target>/shots_<K>/...
"""
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from . import configs
from .settings import ProtocolError, abs_from

PROTOCOLS = ("fewshot", "base2new", "xd")
SEARCHER = "DPLSearch"
NO_LAYOUT = ("ZeroshotCLIP",)  # learns nothing: takes no prompt layout
INPUT_LEVEL = ("ZeroshotCLIP", "CoOp", "CoCoOp")  # their published design has no layout


@dataclass
class Step:
    name: str  # search | train | test
    protocol: str
    dataset: str
    shots: int
    seed: int
    trainer: str  # the trainer this step runs (DPLSearch for a search)
    run_dir: str
    args: list  # its train.py arguments, OPTS last
    needs: Optional[str] = None  # run_dir of the step it needs
    layout_file: str = ""  # the searched layout.json it reads ("" when none)
    model_dir: str = ""  # the trained run it evaluates (test steps of a learning trainer)

    @property
    def marker(self):
        return os.path.join(self.run_dir, "layout.json" if self.trainer == SEARCHER else "results.json")


def backbone_tag(backbone):
    """ViT-B/16 -> vit_b16, ViT-L/14@336px -> vit_l14_336px, tiny-random -> tiny_random."""
    return re.sub(r"[^a-z0-9]", "_", backbone.lower().replace("/", ""))


def run_name(cfg, backbone):
    """A config name as run-folder name for the backbone used: the shipped configs' vit_b16 prefix becomes the
    backbone's tag; other names get the tag appended (none for ViT-B/16)."""
    tag = backbone_tag(backbone)
    if cfg.startswith("vit_b16"):
        return tag + cfg[len("vit_b16"):]
    return cfg if tag == "vit_b16" else f"{cfg}_{tag}"


def sanitize(spec):
    """A layout spec or path as a folder-name fragment: uniform:2:9 -> uniform-2-9."""
    s = re.sub(r"[^A-Za-z0-9._-]", "-", spec).lstrip("-.")
    return s[:-len(".json")] if s.endswith(".json") else s


@dataclass
class Layout:
    mode: str  # searched | none | spec
    spec: str = ""  # the TRAINER.LAYOUT value of mode spec
    tag: str = ""  # the trainer folder's suffix
    note: str = ""  # said once to the user


def resolve_layout(trainer, settings):
    layout = settings.layout or ("none" if trainer in INPUT_LEVEL else "searched")
    if trainer in NO_LAYOUT:
        note = "" if layout == "none" else f"note: {trainer} takes no prompt layout; LAYOUT={layout} ignored"
        return Layout("none", note=note)
    if layout == "searched":
        return Layout("searched")
    if layout == "none":
        if trainer == "DPL":
            raise ProtocolError("TRAINER=DPL needs a prompt layout: LAYOUT=searched (default), uniform:K[:DEPTH], "
                                "random:SEED, zero or a layout file")
        return Layout("none", tag="_nolayout")
    if layout == "zero" or layout.startswith(("uniform:", "random:")):
        return Layout("spec", layout, "_" + sanitize(layout))
    path = abs_from(settings.caller, layout)
    if not os.path.isfile(path):
        raise ProtocolError(f"LAYOUT='{layout}': no such layout file ({path}); expected searched, none, "
                            "uniform:K[:DEPTH], random:SEED, zero or a layout JSON file")
    return Layout("spec", path, "_" + sanitize(layout))


@dataclass
class Plan:
    """One seed of a protocol for one trainer."""
    steps: list = field(default_factory=list)
    layout: Layout = None

    def step(self, name):
        return next((s for s in self.steps if s.name == name), None)


def plan_seed(protocol, dataset, shots, seed, settings, trainer=None):
    """The steps of one seed: [search] (LAYOUT=searched), train, [test] (base2new, xd). For xd, ``dataset`` is the
    test target; the search and training use settings.xd_source."""
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol '{protocol}' (expected fewshot, base2new or xd)")
    trainer = trainer or settings.trainer
    cfg_name = settings.cfg or configs.default_cfg(trainer, protocol, settings)
    layout = resolve_layout(trainer, settings)
    trainer_cfg = configs.trainer_config(trainer, cfg_name, settings)
    name = run_name(cfg_name, settings.backbone) + layout.tag
    search_name = run_name(settings.search_cfg, settings.backbone)
    out, k = settings.output, shots
    common = ["--seed", str(seed)]
    if protocol == "fewshot":
        search_dir = f"{out}/{dataset}/{SEARCHER}/{search_name}_{k}shots/seed{seed}"
        train_dir = f"{out}/{dataset}/{trainer}/{run_name(cfg_name, settings.backbone)}_{k}shots{layout.tag}/seed{seed}"
        test_dir = ""
        cfg = configs.dataset_config(dataset, settings)
        train_args = [*common, "--dataset-config-file", cfg, "DATASET.NUM_SHOTS", str(k)]
        test_args = []
    elif protocol == "base2new":
        cfg = configs.dataset_config(dataset, settings)

        def where(split, who, what):
            return f"{out}/base2new/{split}/{dataset}/shots_{k}/{who}/{what}/seed{seed}"

        search_dir = where("search_base", SEARCHER, search_name)
        train_dir, test_dir = where("train_base", trainer, name), where("test_new", trainer, name)
        shots_pair = ["--dataset-config-file", cfg, "DATASET.NUM_SHOTS", str(k)]
        train_args = [*common, *shots_pair, "DATASET.SUBSAMPLE_CLASSES", "base"]
        test_args = [*common, *shots_pair, "DATASET.SUBSAMPLE_CLASSES", "new"]
    else:
        source = settings.xd_source
        source_cfg = configs.dataset_config(source, settings)

        def where(stage, ds, who, what):
            return f"{out}/xd/{stage}/{ds}/shots_{k}/{who}/{what}/seed{seed}"

        search_dir, train_dir = where("search", source, SEARCHER, search_name), where("train", source, trainer, name)
        test_dir = where("test", dataset, trainer, name)
        train_args = [*common, "--dataset-config-file", source_cfg, "DATASET.NUM_SHOTS", str(k)]
        test_args = [*common, "--dataset-config-file", configs.dataset_config(dataset, settings)]

    layout_pair, layout_file = [], ""
    if layout.mode == "searched":
        layout_file = f"{search_dir}/layout.json"
        layout_pair = ["TRAINER.LAYOUT", layout_file]
    elif layout.mode == "spec":
        layout_pair = ["TRAINER.LAYOUT", layout.spec]

    def full(run_dir, run_args):  # the shared arguments, the run's, then OPTS (last, so the user's pairs win)
        return ["--root", settings.data, "--backbone", settings.backbone, "--output-dir", run_dir, *run_args,
                *settings.opts]

    plan = Plan(layout=layout)
    head = ["--trainer", trainer, "--config-file", trainer_cfg]
    if layout.mode == "searched":
        search_args = ["--trainer", SEARCHER, "--config-file", configs.search_config(settings), *train_args]
        plan.steps.append(Step("search", protocol, source_of(protocol, dataset, settings), k, seed, SEARCHER,
                               search_dir, full(search_dir, search_args)))
    needs = plan.steps[-1].run_dir if plan.steps else None
    if trainer == "ZeroshotCLIP":
        train_run = [*head, "--eval-only", *train_args]
    else:
        train_run = [*head, *train_args, *layout_pair]
    plan.steps.append(Step("train", protocol, source_of(protocol, dataset, settings), k, seed, trainer, train_dir,
                           full(train_dir, train_run), needs, layout_file))
    if test_dir:
        if trainer == "ZeroshotCLIP":
            test_run, model_dir = [*head, "--eval-only", *test_args], ""
        else:
            epoch = configs.max_epoch(trainer_cfg, settings)
            test_run = [*head, "--eval-only", "--model-dir", train_dir, "--load-epoch", epoch, *test_args, *layout_pair]
            model_dir = train_dir
        plan.steps.append(Step("test", protocol, dataset, k, seed, trainer, test_dir, full(test_dir, test_run),
                               train_dir, layout_file, model_dir))
    return plan


def source_of(protocol, dataset, settings):
    return settings.xd_source if protocol == "xd" else dataset


def experiment_dir(step):
    """The folder holding a step's seed*/ runs."""
    return os.path.dirname(step.run_dir)

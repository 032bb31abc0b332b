"""(protocol, dataset, shots, seed, settings) -> the steps of one seed: run folder, train.py arguments, the file
that marks it finished, the step it needs. The one place that knows run-folder names and how steps chain; the
protocol scripts and the sweep both plan with it, so they share folders and skip rules.

Folders (OUTPUT = settings.output; without OPTS, names as the scripts have always written them):
  fewshot   OUTPUT/<dataset>/DPLSearch/<search>_<K>shots<opts>/seed<S>,
            OUTPUT/<dataset>/<trainer>/<cfg>_<K>shots<tag><opts>/seed<S>
  base2new  OUTPUT/base2new/{search_base,train_base,test_new}/<dataset>/shots_<K>/<trainer>/<cfg><tag><opts>/seed<S>
  xd        OUTPUT/xd/{search,train}/<source>/shots_<K>/...  and  OUTPUT/xd/test/<target>/shots_<K>/...
<opts> is the suffix of the result-changing OPTS (opts_suffix); an OPTS value that a config name states (ep40)
replaces it in the name instead (docs/run_folders.md).
"""
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from dpl.runs.run_identity import NOT_IDENTITY

from . import configs
from .settings import ProtocolError, abs_from

# OPTS keys that name no folder: those outside the fingerprint, and the loader's worker count (each sample's
# augmentation is seeded by the sampler, so the workers do not change results).
NO_SUFFIX = frozenset(NOT_IDENTITY) | {"DATALOADER.NUM_WORKERS"}
# Short words for the keys a sweep changes most; any other key is named by its last part (OPTIM.MOMENTUM -> momentum).
SHORT = {"OPTIM.LR": "lr", "OPTIM.MAX_EPOCH": "ep", "OPTIM.WEIGHT_DECAY": "wd", "OPTIM.WARMUP_EPOCH": "warmup",
         "DATALOADER.TRAIN_X.BATCH_SIZE": "bs"}
# Values a config name states (vit_b16_ep40, ..._batch4_...): an OPTS value rewrites that word in place.
IN_NAME = {"OPTIM.MAX_EPOCH": "ep", "DATALOADER.TRAIN_X.BATCH_SIZE": "batch"}
MAX_SUFFIX = 40  # a longer suffix becomes a hash (the run's results.json holds the full configuration)

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


def short_hash(text, n=8):
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def layout_file_tag(path):
    """A layout file as a short folder-name fragment: its name (at most 24 characters) and 8 hex of its content's
    sha256, so two files of one name, or one file edited, never share a folder: my_layout-3f2a9c1e."""
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:8]
    stem = sanitize(os.path.basename(path))[:24].rstrip("-.") or "layout"
    return f"{stem}-{digest}"


def opts_pairs(opts):
    """The result-changing OPTS as {key: value}, a later pair of one key winning as in train.py."""
    pairs = dict(zip(opts[::2], opts[1::2]))
    return {k: v for k, v in pairs.items() if k not in NO_SUFFIX}


def _value_word(value):
    """A value as it reads in a folder name: numbers in one spelling (0.010 and 1e-2 -> 0.01); a path by its last
    part (a different folder of the same name is refused by the run's fingerprint); characters that cannot be in
    a name as '-'."""
    try:
        number = float(value)
        if number == int(number) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            return str(int(number))
        return repr(number)
    except (ValueError, OverflowError):
        value = os.path.basename(value.rstrip("/")) or value
        return re.sub(r"[^A-Za-z0-9._-]", "-", value).strip("-.") or "x"


def _is_number(value):
    try:
        float(value)
        return True
    except ValueError:
        return False


def rename_in_name(name, pairs):
    """``name`` with each value it states and OPTS overrode rewritten (vit_b16_ep40 + OPTIM.MAX_EPOCH 2 ->
    vit_b16_ep2), and the pairs still to name in the suffix."""
    rest = dict(pairs)
    for key, word in IN_NAME.items():
        if key not in rest:
            continue
        pattern = rf"(?<![A-Za-z0-9]){word}[0-9]+(?![A-Za-z0-9])"
        if re.search(pattern, name):
            name = re.sub(pattern, word + _value_word(rest.pop(key)), name)
    return name, rest


def opts_suffix(pairs):
    """``_lr0.01_lrscheduler-cosine`` for the pairs (by key, so their order on the command line does not matter);
    a suffix longer than MAX_SUFFIX becomes ``_opts-<12 hex>`` of the pairs (numbers in one spelling)."""
    if not pairs:
        return ""
    words = {}
    for key in sorted(pairs):
        word = SHORT.get(key) or key.rsplit(".", 1)[-1].lower().replace("_", "")
        if word in words.values():  # two keys ending alike (TRAINER.A.N_CTX, TRAINER.B.N_CTX): the whole key
            word = key.lower().replace(".", "-").replace("_", "")
        words[key] = word
    # numbers follow their word (lr0.01), other values after a '-' (lrscheduler-cosine, folder-my_images)
    suffix = "".join(f"_{words[k]}{'' if _is_number(pairs[k]) else '-'}{_value_word(pairs[k])}" for k in sorted(pairs))
    if len(suffix) > MAX_SUFFIX:
        spelled = {k: _value_word(v) if _is_number(v) else v for k, v in pairs.items()}
        suffix = "_opts-" + short_hash(" ".join(f"{k}={spelled[k]}" for k in sorted(pairs)), 12)
    return suffix


def folder_name(base, settings, tail=""):
    """``base`` (a config's run name) + ``tail`` (shots, layout tag) + the OPTS suffix, with a value the name states
    rewritten when OPTS changed it."""
    base, rest = rename_in_name(base, opts_pairs(settings.opts))
    return base + tail + opts_suffix(rest)


@dataclass
class Layout:
    mode: str  # searched | none | spec
    spec: str = ""  # the TRAINER.LAYOUT value of mode spec
    tag: str = ""  # the trainer folder's suffix
    note: str = ""  # said once to the user
    old_tag: str = ""  # the tag the earlier naming gave (a layout file's whole path), "" = the same as tag


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
    return Layout("spec", path, "_" + layout_file_tag(path), old_tag="_" + sanitize(layout))


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
    base, search_base = run_name(cfg_name, settings.backbone), run_name(settings.search_cfg, settings.backbone)
    name, search_name = folder_name(base, settings, layout.tag), folder_name(search_base, settings)
    out, k = settings.output, shots
    common = ["--seed", str(seed)]
    if protocol == "fewshot":
        search_dir = f"{out}/{dataset}/{SEARCHER}/{folder_name(search_base, settings, f'_{k}shots')}/seed{seed}"
        train_dir = f"{out}/{dataset}/{trainer}/{folder_name(base, settings, f'_{k}shots{layout.tag}')}/seed{seed}"
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
    shots_part = f"_{k}shots" if protocol == "fewshot" else ""
    old_names = {SEARCHER: search_base + shots_part, trainer: base + shots_part + (layout.old_tag or layout.tag)}
    notes = [earlier_naming_note(step, old_names[step.trainer], settings) for step in plan.steps]
    layout.note = "\n".join(filter(None, [layout.note, *notes]))
    return plan


def earlier_naming_note(step, old_name, settings):
    """A note when the folder the earlier naming (before OPTS and layout files named folders short) gave this step
    holds a finished run of the same OPTS: where it is and that moving it reuses it. "" otherwise."""
    experiment = experiment_dir(step)
    old = os.path.join(os.path.dirname(experiment), old_name)
    marker = os.path.join(old, os.path.basename(step.run_dir), os.path.basename(step.marker))
    if old == experiment or not os.path.isfile(marker):
        return ""
    try:
        with open(marker) as f:
            recorded = json.load(f).get("fingerprint") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    wanted = opts_pairs(settings.opts)
    if any(_value_word(str(recorded.get(f"config.{k}"))) != _value_word(v) for k, v in wanted.items()):
        return ""  # another configuration's run (e.g. the default run beside a variant): nothing to say
    return (f"note: {old} holds runs of these settings named before OPTS named folders; runs now go to "
            f"{experiment}: move its seed folders there to reuse them (docs/run_folders.md)")


def source_of(protocol, dataset, settings):
    return settings.xd_source if protocol == "xd" else dataset


def experiment_dir(step):
    """The folder holding a step's seed*/ runs."""
    return os.path.dirname(step.run_dir)

"""Aggregate results over seeds, CoOp-compatible, plus tables over datasets / trainers / base-to-new / layouts.

CoOp's usage keeps working::

    python parse_test_res.py output/caltech101/DPL/vit_b16_ep40_16shots --ci95
    python parse_test_res.py output/caltech101/DPL --multi-exp
    python parse_test_res.py output/xd/test/dtd/... --test-log

Extra modes::

    python parse_test_res.py --table output/caltech101 output/dtd      # rows datasets, columns trainers
    python parse_test_res.py --base2new output/base2new                 # base / new / HM
    python parse_test_res.py --layouts output/caltech101/DPLSearch/search_16shots   # searched layouts
    python parse_test_res.py --layouts output --plot layouts.png   # every search under output/, one heatmap

A seed directory's ``results.json`` is read when present, else the newest log (``log.txt`` or
``log.txt-<timestamp>``) that holds an evaluation block (after ``Finish training`` or ``=> result``).
"""
import argparse
import json
import math
import os
import re
import sys
from collections import Counter, OrderedDict
from pathlib import Path

try:
    from dpl.errors import DPLError
except ImportError:  # the script also works outside the installed project
    DPLError = Exception

# Lines that open the evaluation block of a Dassl log (train runs print the first, eval-only runs the second).
START_SIGNALS = ("Finish training", "=> result")
SEED_DIR = re.compile(r"^seed(\d+)$")
SEARCH_TRAINER = "DPLSearch"


class ResultsNotFound(DPLError):
    """A directory given on the command line is missing or holds no finished run."""


# ----------------------------------------------------------------------------------------------- statistics
def mean(values):
    return sum(values) / len(values)


def std(values):
    """Population standard deviation (numpy's default, what CoOp prints)."""
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def compute_ci95(values):
    """Half-width of CoOp's 95% confidence interval: 1.96 * std / sqrt(n) (population std, as CoOp)."""
    return 1.96 * std(values) / math.sqrt(len(values))


def harmonic_mean(base, new):
    """HM of base and new accuracy (0 when either is 0)."""
    return 0.0 if base + new == 0 or base == 0 or new == 0 else 2 * base * new / (base + new)


# ------------------------------------------------------------------------------------------------- reading
def _metric_regex(keyword):
    return re.compile(r"\* " + re.escape(keyword) + r": ([\.\deE+-]+)%")


def parse_log(path, keywords=("accuracy",)):
    """Metrics of the final evaluation block of one Dassl log, {keyword: float}; None when it holds none.
    A block opens at ``Finish training`` or ``=> result``. In a training log only blocks after
    ``Finish training`` count (earlier ``=> result`` blocks are per-epoch validation), and a training
    log without ``Finish training`` is unfinished. The last block wins (a resumed run may print several)."""
    regexes = {k: _metric_regex(k) for k in keywords}
    blocks, trained, finished = [], False, False
    with open(path, "r", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("epoch ["):
                trained = True
            if line in START_SIGNALS:
                if line == START_SIGNALS[0]:
                    finished = True
                blocks.append((finished, {}))  # empty blocks (a signal right after another) are dropped below
                continue
            if not blocks:
                continue
            for key, regex in regexes.items():
                match = regex.search(line)
                if match:
                    blocks[-1][1][key] = float(match.group(1))
    if trained and not finished:
        return None
    usable = [metrics for after_finish, metrics in blocks if metrics and (after_finish or not finished)]
    return usable[-1] if usable else None


def log_files(run_dir):
    """``log.txt`` and its timestamped siblings, newest first (by modification time, then name)."""
    run_dir = Path(run_dir)
    logs = [p for p in run_dir.glob("log.txt*") if p.is_file()]
    return sorted(logs, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def read_run(run_dir, keyword="accuracy"):
    """One seed directory -> {"file": path, keyword: value, "fingerprint": dict or None} or None when it has no
    result. results.json (written when a run finishes) is preferred over parsing logs (which carry no fingerprint)."""
    run_dir = Path(run_dir)
    results = run_dir / "results.json"
    if results.is_file():
        try:
            data = json.loads(results.read_text())
        except (OSError, ValueError):
            data = None  # a broken file: fall back to the log
        if isinstance(data, dict) and isinstance(data.get(keyword), (int, float)):
            out = OrderedDict(file=str(results))
            out[keyword] = float(data[keyword])
            fingerprint = data.get("fingerprint")
            out["fingerprint"] = fingerprint if isinstance(fingerprint, dict) else None
            return out
    for log in log_files(run_dir):
        metrics = parse_log(log, (keyword,))
        if metrics and keyword in metrics:
            out = OrderedDict(file=str(log))
            out[keyword] = metrics[keyword]
            out["fingerprint"] = None
            return out
    return None


def seed_dirs(directory):
    """The seed*/ subdirectories of an experiment directory, by seed number."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and SEED_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(SEED_DIR.match(p.name).group(1)))


# ------------------------------------------------------------------------------- one configuration per number
# Fingerprint keys that differ between the seeds of one configuration: the seed itself, a searched layout (one per
# seed) and, for evaluations, the checkpoints evaluated (one per seed).
PER_SEED_KEYS = ("config.SEED", "layout.sha256")
PER_SEED_PREFIXES = ("model.",)
# Metrics printed as percentages: a value outside [0, 100] is impossible.
PERCENT_KEYWORDS = ("accuracy", "error", "error_rate", "macro_f1", "perclass_accuracy")
REFUSED_NOTE = "holds another configuration's run (refused)"


class MixedConfigurations(ResultsNotFound):
    """The seed folders of one experiment hold runs of different configurations."""


def configuration_of(fingerprint):
    """What must be equal between the seeds of one experiment: the fingerprint minus its per-seed keys."""
    return {k: v for k, v in fingerprint.items() if k not in PER_SEED_KEYS and not k.startswith(PER_SEED_PREFIXES)}


def impossible_value(value, keyword):
    """Why ``value`` cannot be a result of ``keyword`` (NaN, infinite, a percentage outside [0, 100]), else None."""
    if not math.isfinite(value):
        return f"{keyword} is {value}, not a number"
    if keyword in PERCENT_KEYWORDS and not 0.0 <= value <= 100.0:
        return f"{keyword} {value} is outside [0, 100]"
    return None


def _shown(value):
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):  # a file hash: its start tells them apart
        return f"sha256 {text[:12]}"
    return text


def _key_differences(a, b, shown=4):
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
    parts = [f"{k[len('config.'):] if k.startswith('config.') else k} {_shown(a.get(k, '<absent>'))} vs "
             f"{_shown(b.get(k, '<absent>'))}" for k in keys[:shown]]
    return "; ".join(parts) + (f" (and {len(keys) - shown} more)" if len(keys) > shown else "")


def mixed_configurations(runs):
    """Why the runs [(seed name, run dict)] are not one configuration (None when they are, or when none carries a
    fingerprint: CoOp-style logs cannot be told apart)."""
    known = [(name, r["fingerprint"]) for name, r in runs if r.get("fingerprint")]
    if not known:
        return None
    unknown = [name for name, r in runs if not r.get("fingerprint")]
    if unknown:
        return (f"{', '.join(unknown)} carr{'ies' if len(unknown) == 1 else 'y'} no run fingerprint (a log or an "
                f"older results.json) beside fingerprinted {', '.join(n for n, _ in known)}: one configuration "
                "cannot be told")
    groups = OrderedDict()
    for name, fingerprint in known:
        config = configuration_of(fingerprint)
        groups.setdefault(json.dumps(config, sort_keys=True), (config, []))[1].append(name)
    if len(groups) == 1:
        return None
    (first, first_seeds), *others = groups.values()
    return "; ".join(f"{', '.join(first_seeds)} vs {', '.join(seeds)}: {_key_differences(first, config)}"
                     for config, seeds in others)


def read_experiment(directory, keyword="accuracy", refused=()):
    """Every seed of one experiment folder: {"used": [run dicts averaged], "notes": ["seedS: why left out"],
    "mixed": why the usable seeds are not one configuration (then nothing is averaged) or None}.
    ``refused`` holds seed folders the caller knows belong to another configuration than the one asked for."""
    refused = {os.path.abspath(r) for r in refused}
    usable, notes = [], []
    for seed in seed_dirs(directory):
        if os.path.abspath(seed) in refused:
            notes.append(f"{seed.name}: {REFUSED_NOTE}, left out")
            continue
        run = read_run(seed, keyword)
        if run is None:
            notes.append(f"{seed.name}: no result yet (no results.json with '{keyword}', no log with a finished "
                         "evaluation)")
            continue
        problem = impossible_value(run[keyword], keyword)
        if problem:
            notes.append(f"{seed.name}: {problem} in {run['file']}, left out")
            continue
        usable.append((seed.name, run))
    return {"used": [r for _, r in usable], "notes": notes, "mixed": mixed_configurations(usable)}


def parse_dir(directory, keyword="accuracy", refused=()):
    """Every usable seed's result of one experiment directory: a list of {"file", keyword} dicts (seed order).
    Raises ResultsNotFound when the directory is missing or no seed has a result, MixedConfigurations when the
    seeds are runs of different configurations."""
    return _checked_experiment(directory, keyword, refused)["used"]


def _checked_experiment(directory, keyword="accuracy", refused=()):
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsNotFound(f"{directory}: no such directory (expected an experiment folder holding seed*/ runs)")
    if not seed_dirs(directory) and find_experiments(directory):
        raise ResultsNotFound(f"{directory}: holds experiment folders, not seed*/ runs; use --multi-exp or --table")
    exp = read_experiment(directory, keyword, refused)
    if exp["mixed"]:
        raise MixedConfigurations(f"{directory}: its seeds are runs of different configurations, not averaged: "
                                  f"{exp['mixed']}")
    if not exp["used"]:
        notes = "; ".join(exp["notes"])
        raise ResultsNotFound(
            f"{directory}: no finished run found (expected seed*/results.json or seed*/log.txt with "
            f"'* {keyword}: X%' after 'Finish training' or '=> result')" + (f": {notes}" if notes else ""))
    return exp


def summarize(values):
    """{"mean", "std", "ci95", "n"} of a list of numbers."""
    return {"mean": mean(values), "std": std(values), "ci95": compute_ci95(values), "n": len(values)}


# ------------------------------------------------------------------------------------------- CoOp's output
def print_dir_summary(directory, keyword="accuracy", ci95=False):
    """CoOp's per-file lines and summary; returns the mean. Seeds left out are listed with why."""
    print(f"Parsing files in {directory}")
    exp = _checked_experiment(directory, keyword)
    outputs = exp["used"]
    for out in outputs:
        print(f"file: {out['file']}. {keyword}: {out[keyword]:.2f}%. ")
    for note in exp["notes"]:
        print(f"(left out) {note}")
    values = [o[keyword] for o in outputs]
    stats = summarize(values)
    print("===")
    print(f"Summary of directory: {directory}")
    if stats["n"] == 1:  # no spread to show: a "+- 0.00%" would read like a real interval
        print(f"* {keyword}: {stats['mean']:.2f}% (1 seed, no interval)")
    else:
        spread = stats["ci95"] if ci95 else stats["std"]
        label = f"{'95% CI' if ci95 else 'std'} over {stats['n']} seeds"
        print(f"* {keyword}: {stats['mean']:.2f}% +- {spread:.2f}% ({label})")  # CoOp's line, then what +- is
    if exp["notes"]:
        print(f"({len(exp['notes'])} seed folder{'s' if len(exp['notes']) != 1 else ''} left out, see above)")
    print("===")
    return stats["mean"]


def print_multi_exp(directory, keyword="accuracy", ci95=False):
    """CoOp's --multi-exp: every experiment folder under DIR, then the average of their means."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsNotFound(f"{directory}: no such directory")
    exps = sorted(p for p in directory.iterdir() if p.is_dir() and seed_dirs(p))
    if not exps:
        raise ResultsNotFound(f"{directory}: no experiment folder with seed*/ runs inside")
    means = []
    for exp in exps:
        try:
            means.append(print_dir_summary(exp, keyword, ci95))
        except ResultsNotFound as err:
            print(f"(skipped) {err}")
    if not means:
        raise ResultsNotFound(f"{directory}: no experiment folder holds a finished run")
    print("===")
    print(f"Average over {len(means)} experiments: * {keyword}: {mean(means):.2f}%")
    print("===")


# ------------------------------------------------------------------------------------------------- tables
def find_experiments(root):
    """Every folder at or under ``root`` that holds seed*/ subfolders (an experiment)."""
    root = Path(root)
    if seed_dirs(root):
        return [root]
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        if any(SEED_DIR.match(d) for d in dirnames):
            found.append(Path(dirpath))
            dirnames[:] = []  # seed dirs are leaves of the walk
    return found


CELL_LEGEND = ("(± = 95% confidence interval over seeds, 1.96 * std / sqrt(n); (n) = number of seeds; "
               "[k] = see note k below)")


class Notes:
    """Numbered notes under a table: why a cell is marked or holds fewer seeds than were asked for."""

    def __init__(self):
        self.lines = []

    def mark(self, where, text):
        self.lines.append(f"[{len(self.lines) + 1}] {where}: {text}")
        return f" [{len(self.lines)}]"


def _stats_text(stats):
    if stats["n"] == 1:  # no spread: "± 0.00" would read like a real interval
        return f"{stats['mean']:.2f} (1 seed)"
    return f"{stats['mean']:.2f} ± {stats['ci95']:.2f} ({stats['n']})"


def _cell(entry, where, notes):
    """The text of one cell: "mean ± ci95 (n)", or a mark without a number when the seeds are not one configuration
    or none has a usable result; left-out seeds add a note."""
    if entry["mixed"]:
        return "mixed configurations" + notes.mark(where, "seeds of different configurations, not averaged: "
                                                   + entry["mixed"])
    refused = any(REFUSED_NOTE in note for note in entry["notes"])
    text = _stats_text(entry["stats"]) if entry["stats"] else "refused" if refused else "no result"
    if entry["notes"]:
        text += notes.mark(where, "; ".join(entry["notes"]))
    return text


def _experiment_cell(exp, keyword, refused):
    found = read_experiment(exp, keyword, refused)
    values = [o[keyword] for o in found["used"]]
    return {"stats": summarize(values) if values and not found["mixed"] else None,
            "notes": found["notes"], "mixed": found["mixed"]}


def _tabulate(rows, headers, notes=None):
    from tabulate import tabulate
    text = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + "\n" + CELL_LEGEND
    return text + "".join("\n" + line for line in (notes.lines if notes else []))


def _dataset_and_trainer(exp):
    """``<dataset>/<trainer>/<config>`` (few-shot) or ``<dataset>/shots_K/<trainer>/<config>`` (xd, base2new)."""
    dataset_dir = exp.parent.parent
    if re.match(r"^shots_\d+$", dataset_dir.name):
        dataset_dir = dataset_dir.parent
    return dataset_dir.name, exp.parent.name


# The stage folder above <dataset>/shots_K/ names the protocol (scripts/dpl/common.sh's layout).
PROTOCOL_OF_STAGE = {("base2new", "train_base"): "base-to-new, base classes",
                     ("base2new", "test_new"): "base-to-new, new classes",
                     ("xd", "train"): "cross-dataset, source", ("xd", "test"): "cross-dataset, target",
                     ("base2new", "search_base"): "base-to-new", ("xd", "search"): "cross-dataset"}


def protocol_and_shots(exp):
    """(protocol, shots) of an experiment folder from its place: ``<dataset>/<trainer>/<cfg>_<K>shots[tag]`` is
    few-shot, ``<family>/<stage>/<dataset>/shots_K/<trainer>/<cfg>`` base-to-new or cross-dataset."""
    exp = Path(exp).absolute()
    shots_dir = exp.parent.parent
    match = re.match(r"^shots_(\d+)$", shots_dir.name)
    if match:
        stage = shots_dir.parent.parent
        protocol = PROTOCOL_OF_STAGE.get((stage.parent.name, stage.name), stage.name)
        return protocol, int(match.group(1))
    match = re.search(r"_(\d+)shots", exp.name)
    return "few-shot", int(match.group(1)) if match else None


def collect_table(paths, keyword="accuracy", refused=()):
    """{(protocol, shots): {(dataset, column): cell}} over the experiments found under ``paths``: one table per
    protocol and shot count. An experiment folder is ``<dataset>/<trainer>/<config>``; the column is the trainer,
    or ``trainer/config`` when one trainer has several configs in that table. A cell is {"stats", "notes",
    "mixed"} (see read_experiment); ``refused`` seed folders are left out and noted."""
    exps = []
    for path in paths:
        if not Path(path).is_dir():
            raise ResultsNotFound(f"{path}: no such directory")
        found = find_experiments(path)
        if found != [Path(path)]:  # walked: leave out search runs (supernet accuracy, not a trained model)
            found = [e for e in found if e.parent.name != SEARCH_TRAINER]
        exps.extend(e for e in found if e not in exps)
    results = {}
    for exp in exps:
        cell = _experiment_cell(exp, keyword, refused)
        if cell["stats"] is None and not cell["mixed"] and not any(REFUSED_NOTE in n for n in cell["notes"]):
            continue  # nothing run there yet
        dataset, trainer = _dataset_and_trainer(exp)
        results.setdefault(protocol_and_shots(exp), {})[(dataset, trainer, exp.name)] = cell
    if not results:
        raise ResultsNotFound(f"{' '.join(map(str, paths))}: no finished run found under these folders")
    tables = {}
    for group, found in results.items():
        configs = Counter((d, t) for d, t, _ in found)
        several = {t for (d, t), n in configs.items() if n > 1}
        tables[group] = {(d, f"{t}/{c}" if t in several else t): cell for (d, t, c), cell in found.items()}
    return tables


def _group_title(group):
    protocol, shots = group
    return f"{protocol}, {shots} shots" if shots is not None else protocol


def format_table(cells, title=""):
    """Rows datasets, columns trainers, cells "mean ± ci95 (n)", and an Average row over datasets. The first
    header names the protocol and shot count (``title``)."""
    # first-appearance order: the order of the folders given (compare.sh's trainer order), sorted when walked
    datasets = list(dict.fromkeys(d for d, _ in cells))
    columns = list(dict.fromkeys(c for _, c in cells))
    notes = Notes()
    rows = [[d] + [_cell(cells[(d, c)], f"{d} / {c}", notes) if (d, c) in cells else "-" for c in columns]
            for d in datasets]
    avg = ["Average"]
    for c in columns:
        means = [cells[(d, c)]["stats"]["mean"] for d in datasets if (d, c) in cells and cells[(d, c)]["stats"]]
        note = "" if len(means) == len(datasets) else f" [{len(means)}/{len(datasets)} datasets]"
        avg.append(f"{mean(means):.2f}{note}" if means else "-")
    rows.append(avg)
    return _tabulate(rows, [f"Dataset ({title})" if title else "Dataset"] + columns, notes)


def format_tables(tables):
    """One table per (protocol, shots), few-shot first, separated by a blank line."""
    order = sorted(tables, key=lambda g: (g[0] != "few-shot", g[0], g[1] if g[1] is not None else -1))
    return "\n\n".join(format_table(tables[g], _group_title(g)) for g in order)


def _split_root(root, split):
    """ROOT/<split>, also accepting ROOT = output (ROOT/base2new/<split>)."""
    root = Path(root)
    for cand in (root / split, root / "base2new" / split):
        if cand.is_dir():
            return cand
    return None


def collect_base2new(root, keyword="accuracy", refused=()):
    """{shots: {(dataset, trainer[/config]): {"base": cell, "new": cell}}} from train_base and test_new (a cell as
    in collect_table): one table per shot count."""
    found = {}
    for split, name in (("train_base", "base"), ("test_new", "new")):
        split_dir = _split_root(root, split)
        if split_dir is None:
            continue
        # <split>/<dataset>/shots_K/<trainer>/<config>/seed*
        for exp in find_experiments(split_dir):
            rel = exp.relative_to(split_dir).parts
            if len(rel) != 4 or not re.match(r"^shots_\d+$", rel[1]):
                continue
            dataset, shots, trainer, config = rel
            cell = _experiment_cell(exp, keyword, refused)
            if cell["stats"] is None and not cell["mixed"] and not any(REFUSED_NOTE in n for n in cell["notes"]):
                continue  # nothing run there yet
            per_shots = found.setdefault(int(shots[len("shots_"):]), {})
            per_shots.setdefault((dataset, trainer, config), {})[name] = cell
    if not found:
        raise ResultsNotFound(
            f"{root}: no finished run under train_base/ or test_new/ "
            f"(expected <split>/<dataset>/shots_K/<trainer>/<config>/seed*/)")
    tables = {}
    for shots, per_shots in found.items():
        configs = Counter((d, t) for d, t, _ in per_shots)
        several = {t for (d, t), n in configs.items() if n > 1}
        tables[shots] = {(d, f"{t}/{c}" if t in several else t): v for (d, t, c), v in per_shots.items()}
    return tables


def format_base2new(results, shots=None):
    """Rows (dataset, trainer): base, new, HM of the mean base and mean new; then one Average row per
    trainer (means over datasets, HM of those means, as the CoOp-family papers report). A marked cell (mixed
    configurations, no result) gives no HM and stays out of the averages."""
    notes = Notes()
    rows, per_trainer = [], {}
    for (dataset, trainer) in sorted(results):
        entry = results[(dataset, trainer)]
        where = f"{dataset} / {trainer}"
        base, new = entry.get("base"), entry.get("new")
        b_stats, n_stats = (c["stats"] if c else None for c in (base, new))
        hm = f"{harmonic_mean(b_stats['mean'], n_stats['mean']):.2f}" if b_stats and n_stats else "-"
        rows.append([dataset, trainer, _cell(base, where + " base", notes) if base else "-",
                     _cell(new, where + " new", notes) if new else "-", hm])
        if b_stats and n_stats:
            per_trainer.setdefault(trainer, []).append((b_stats["mean"], n_stats["mean"]))
    for trainer in sorted(per_trainer):
        pairs = per_trainer[trainer]
        b, n = mean([p[0] for p in pairs]), mean([p[1] for p in pairs])
        rows.append([f"Average ({len(pairs)} datasets)", trainer, f"{b:.2f}", f"{n:.2f}",
                     f"{harmonic_mean(b, n):.2f}"])
    title = "Dataset (base-to-new" + (f", {shots} shots)" if shots is not None else ")")
    return _tabulate(rows, [title, "Trainer", "Base", "New", "HM"], notes)


def format_base2new_tables(tables):
    return "\n\n".join(format_base2new(tables[k], k) for k in sorted(tables))


# ------------------------------------------------------------------------------------------------ layouts
def read_layouts(directory):
    """{seed dir name: layout dict} of the search runs under ``directory`` (seed*/layout.json)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsNotFound(f"{directory}: no such directory (expected a search folder holding seed*/)")
    layouts = OrderedDict()
    for d in seed_dirs(directory):
        path = d / "layout.json"
        if path.is_file():
            layouts[d.name] = json.loads(path.read_text())
    if not layouts:
        raise ResultsNotFound(f"{directory}: no seed*/layout.json found (has the search finished?)")
    return layouts


def layout_agreement(layouts):
    """Per branch: the per-layer majority length, the fraction of seeds agreeing with it per layer,
    the mean of those fractions, and each seed's count of zero-length layers."""
    seqs = list(layouts.values())
    out = OrderedDict()
    for branch in ("vision", "text"):
        columns = list(zip(*[s[branch] for s in seqs]))
        majority, agree = [], []
        for values in columns:
            value, count = Counter(values).most_common(1)[0]
            majority.append(value)
            agree.append(count / len(values))
        out[branch] = {
            "majority": majority,
            "agreement": agree,
            "mean_agreement": mean(agree) if agree else 0.0,
            "zero_layers": {name: sum(1 for v in s[branch] if v == 0) for name, s in layouts.items()},
        }
    return out


def search_dirs(paths):
    """The search folders (holding seed*/layout.json) given, or found under the given roots, in order."""
    found = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise ResultsNotFound(f"{path}: no such directory (expected a search folder holding seed*/)")
        here = [p for p in find_experiments(path) if any((d / "layout.json").is_file() for d in seed_dirs(p))]
        if not here:
            raise ResultsNotFound(f"{path}: no seed*/layout.json found at or under it (has the search finished?)")
        found += [p for p in here if p not in found]
    return found


def search_name(directory):
    """``<dataset>, <protocol>, <K> shots`` of a search folder (few-shot ``<dataset>/DPLSearch/<cfg>_<K>shots``,
    base-to-new / cross-dataset ``<family>/<stage>/<dataset>/shots_K/DPLSearch/<cfg>``)."""
    protocol, shots = protocol_and_shots(directory)
    dataset = _dataset_and_trainer(Path(directory))[0]
    return f"{dataset}, {protocol}" + (f", {shots} shots" if shots is not None else "")


def layout_rows(directories):
    """[(label "<dataset>, <protocol>, <K> shots, seed<S>", search name, layout dict)] over the search folders, in the
    given order. The search config is added when one dataset, protocol and shot count has several."""
    names = [search_name(d) for d in directories]
    rows = []
    for directory, name in zip(directories, names):
        if names.count(name) > 1:
            name = f"{name}, {Path(directory).name}"
        for seed, layout in read_layouts(directory).items():
            rows.append((f"{name}, {seed}", name, layout))
    return rows


def layout_matrix(rows, branch):
    """The ``branch`` lengths of every row, padded with NaN to the deepest row (backbones of different depth)."""
    width = max(len(layout[branch]) for _, _, layout in rows)
    return [list(layout[branch]) + [float("nan")] * (width - len(layout[branch])) for _, _, layout in rows]


def plot_layouts(directories, path):
    """One heatmap PNG of the searched lengths: rows dataset x seed, columns layers, vision and text panels."""
    from dpl.search.plot import plot_layout_heatmap

    rows = layout_rows(directories)
    max_length = max(int(layout.get("max_length") or 0) for _, _, layout in rows)
    plot_layout_heatmap([label for label, _, _ in rows], [group for _, group, _ in rows],
                        {b: layout_matrix(rows, b) for b in ("vision", "text")}, max_length, str(path))
    groups = len(dict.fromkeys(group for _, group, _ in rows))
    print(f"Heatmap of {len(rows)} searched layouts ({groups} search{'es' if groups != 1 else ''}) written to {path}")


def print_layouts(directory):
    layouts = read_layouts(directory)
    print(f"Layouts in {directory} ({len(layouts)} seeds)")
    for name, layout in layouts.items():
        for branch in ("vision", "text"):
            print(f"{name} {branch:6s}: {layout[branch]}")
    agreement = layout_agreement(layouts)
    print("===")
    for branch, info in agreement.items():
        print(f"{branch} majority : {info['majority']}")
        print(f"{branch} agreement: [{', '.join(f'{a:.2f}' for a in info['agreement'])}] "
              f"mean {info['mean_agreement']:.2f}")
        zeros = ", ".join(f"{k}: {v}" for k, v in info["zero_layers"].items())
        print(f"{branch} zero-length layers: {zeros}")
    every_layer = [a for info in agreement.values() for a in info["agreement"]]
    print(f"mean agreement over all layers: {mean(every_layer):.2f}")
    print("===")
    return agreement


# ---------------------------------------------------------------------------------------------------- CLI
def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", nargs="?", help="experiment folder holding seed*/ runs (CoOp's usage)")
    p.add_argument("--ci95", action="store_true", help="print the 95%% CI (1.96*std/sqrt(n)) instead of std")
    p.add_argument("--test-log", action="store_true",
                   help="CoOp compatibility: eval-only logs ('=> result') are always read")
    p.add_argument("--keyword", default="accuracy", help="metric to read (accuracy, error, macro_f1)")
    p.add_argument("--multi-exp", action="store_true", help="DIR holds several experiment folders")
    p.add_argument("--table", nargs="+", metavar="DIR",
                   help="rows datasets, columns trainers; one table per protocol and shot count")
    p.add_argument("--base2new", metavar="ROOT", help="base / new / HM table from ROOT/{train_base,test_new}")
    p.add_argument("--refused", action="append", default=[], metavar="SEED_DIR",
                   help="with --table / --base2new: a seed folder known to hold another configuration's run than the "
                        "one asked for (the sweep passes those it refused); left out and noted under the table")
    p.add_argument("--layouts", nargs="+", metavar="DIR",
                   help="searched layouts of DIR/seed*/layout.json and their agreement (a DIR may be a root holding "
                        "several search folders)")
    p.add_argument("--plot", metavar="FILE", help="with --layouts: one heatmap PNG of the lengths per layer, rows "
                                                  "dataset x seed, vision and text side by side")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.plot and not args.layouts:
        parser.error("--plot draws the layouts of --layouts DIR ...; give the search folders with --layouts")
    try:
        if args.table:
            print(format_tables(collect_table(args.table, args.keyword, args.refused)))
        elif args.base2new:
            print(format_base2new_tables(collect_base2new(args.base2new, args.keyword, args.refused)))
        elif args.layouts:
            directories = search_dirs(args.layouts)
            for directory in directories:
                print_layouts(directory)
            if args.plot:
                plot_layouts(directories, args.plot)
        elif args.directory:
            if args.multi_exp:
                print_multi_exp(args.directory, args.keyword, args.ci95)
            else:
                print_dir_summary(args.directory, args.keyword, args.ci95)
        else:
            parser.error("give an experiment DIR, or --table / --base2new / --layouts")
    except ResultsNotFound as err:
        print(f"parse_test_res.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

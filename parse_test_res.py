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
    """One seed directory -> {"file": path, keyword: value, ...} or None when it has no result.
    results.json (written when a run finishes) is preferred over parsing logs."""
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
            return out
    for log in log_files(run_dir):
        metrics = parse_log(log, (keyword,))
        if metrics and keyword in metrics:
            out = OrderedDict(file=str(log))
            out[keyword] = metrics[keyword]
            return out
    return None


def seed_dirs(directory):
    """The seed*/ subdirectories of an experiment directory, by seed number."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and SEED_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(SEED_DIR.match(p.name).group(1)))


def parse_dir(directory, keyword="accuracy"):
    """Every seed's result of one experiment directory: a list of {"file", keyword} dicts (seed order).
    Raises ResultsNotFound when the directory is missing or no seed has a result."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsNotFound(f"{directory}: no such directory (expected an experiment folder holding seed*/ runs)")
    seeds = seed_dirs(directory)
    if not seeds and find_experiments(directory):
        raise ResultsNotFound(f"{directory}: holds experiment folders, not seed*/ runs; use --multi-exp or --table")
    outputs = [r for r in (read_run(d, keyword) for d in seeds) if r]
    if not outputs:
        raise ResultsNotFound(
            f"{directory}: no finished run found (expected seed*/results.json or seed*/log.txt with "
            f"'* {keyword}: X%' after 'Finish training' or '=> result')")
    return outputs


def summarize(values):
    """{"mean", "std", "ci95", "n"} of a list of numbers."""
    return {"mean": mean(values), "std": std(values), "ci95": compute_ci95(values), "n": len(values)}


# ------------------------------------------------------------------------------------------- CoOp's output
def print_dir_summary(directory, keyword="accuracy", ci95=False):
    """CoOp's per-file lines and summary; returns the mean."""
    print(f"Parsing files in {directory}")
    outputs = parse_dir(directory, keyword)
    for out in outputs:
        print(f"file: {out['file']}. {keyword}: {out[keyword]:.2f}%. ")
    values = [o[keyword] for o in outputs]
    stats = summarize(values)
    spread = stats["ci95"] if ci95 else stats["std"]
    label = f"{'95% CI' if ci95 else 'std'} over {stats['n']} seed{'s' if stats['n'] != 1 else ''}"
    print("===")
    print(f"Summary of directory: {directory}")
    print(f"* {keyword}: {stats['mean']:.2f}% +- {spread:.2f}% ({label})")  # CoOp's line, then what +- is
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


def _cell(stats):
    return f"{stats['mean']:.2f} ± {stats['ci95']:.2f} ({stats['n']})"


CELL_LEGEND = "(± = 95% confidence interval over seeds, 1.96 * std / sqrt(n); (n) = number of seeds)"


def _tabulate(rows, headers):
    from tabulate import tabulate
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + "\n" + CELL_LEGEND


def _dataset_and_trainer(exp):
    """``<dataset>/<trainer>/<config>`` (few-shot) or ``<dataset>/shots_K/<trainer>/<config>`` (xd, base2new)."""
    dataset_dir = exp.parent.parent
    if re.match(r"^shots_\d+$", dataset_dir.name):
        dataset_dir = dataset_dir.parent
    return dataset_dir.name, exp.parent.name


def collect_table(paths, keyword="accuracy"):
    """{(dataset, column): stats} over the experiments found under ``paths``.
    An experiment folder is ``<dataset>/<trainer>/<config>``; the column is the trainer, or
    ``trainer/config`` when one trainer has several configs."""
    exps = []
    for path in paths:
        if not Path(path).is_dir():
            raise ResultsNotFound(f"{path}: no such directory")
        found = find_experiments(path)
        if found != [Path(path)]:  # walked: leave out search runs (supernet accuracy, not a trained model)
            found = [e for e in found if e.parent.name != SEARCH_TRAINER]
        exps.extend(found)
    results = {}
    for exp in exps:
        try:
            outputs = parse_dir(exp, keyword)
        except ResultsNotFound:
            continue
        dataset, trainer = _dataset_and_trainer(exp)
        results[(dataset, trainer, exp.name)] = summarize([o[keyword] for o in outputs])
    if not results:
        raise ResultsNotFound(f"{' '.join(map(str, paths))}: no finished run found under these folders")
    configs = Counter((d, t) for d, t, _ in results)
    several = {t for (d, t), n in configs.items() if n > 1}
    return {(d, f"{t}/{c}" if t in several else t): s for (d, t, c), s in results.items()}


def format_table(cells):
    """Rows datasets, columns trainers, cells "mean ± ci95 (n)", and an Average row over datasets."""
    # first-appearance order: the order of the folders given (compare.sh's trainer order), sorted when walked
    datasets = list(dict.fromkeys(d for d, _ in cells))
    columns = list(dict.fromkeys(c for _, c in cells))
    rows = [[d] + [_cell(cells[(d, c)]) if (d, c) in cells else "-" for c in columns] for d in datasets]
    avg = ["Average"]
    for c in columns:
        means = [cells[(d, c)]["mean"] for d in datasets if (d, c) in cells]
        note = "" if len(means) == len(datasets) else f" [{len(means)}/{len(datasets)} datasets]"
        avg.append(f"{mean(means):.2f}{note}")
    rows.append(avg)
    return _tabulate(rows, ["Dataset"] + columns)


def _split_root(root, split):
    """ROOT/<split>, also accepting ROOT = output (ROOT/base2new/<split>)."""
    root = Path(root)
    for cand in (root / split, root / "base2new" / split):
        if cand.is_dir():
            return cand
    return None


def collect_base2new(root, keyword="accuracy"):
    """{(dataset, trainer[/config]): {"base": stats, "new": stats}} from train_base and test_new."""
    found = {}
    for split, name in (("train_base", "base"), ("test_new", "new")):
        split_dir = _split_root(root, split)
        if split_dir is None:
            continue
        # <split>/<dataset>/shots_K/<trainer>/<config>/seed*
        for exp in find_experiments(split_dir):
            rel = exp.relative_to(split_dir).parts
            if len(rel) != 4:
                continue
            dataset, _, trainer, config = rel
            try:
                outputs = parse_dir(exp, keyword)
            except ResultsNotFound:
                continue
            found.setdefault((dataset, trainer, config), {})[name] = summarize([o[keyword] for o in outputs])
    if not found:
        raise ResultsNotFound(
            f"{root}: no finished run under train_base/ or test_new/ "
            f"(expected <split>/<dataset>/shots_K/<trainer>/<config>/seed*/)")
    configs = Counter((d, t) for d, t, _ in found)
    several = {t for (d, t), n in configs.items() if n > 1}
    return {(d, f"{t}/{c}" if t in several else t): v for (d, t, c), v in found.items()}


def format_base2new(results):
    """Rows (dataset, trainer): base, new, HM of the mean base and mean new; then one Average row per
    trainer (means over datasets, HM of those means, as the CoOp-family papers report)."""
    def fmt(stats):
        return _cell(stats) if stats else "-"

    rows, per_trainer = [], {}
    for (dataset, trainer) in sorted(results):
        entry = results[(dataset, trainer)]
        base, new = entry.get("base"), entry.get("new")
        hm = f"{harmonic_mean(base['mean'], new['mean']):.2f}" if base and new else "-"
        rows.append([dataset, trainer, fmt(base), fmt(new), hm])
        if base and new:
            per_trainer.setdefault(trainer, []).append((base["mean"], new["mean"]))
    for trainer in sorted(per_trainer):
        pairs = per_trainer[trainer]
        b, n = mean([p[0] for p in pairs]), mean([p[1] for p in pairs])
        rows.append([f"Average ({len(pairs)} datasets)", trainer, f"{b:.2f}", f"{n:.2f}",
                     f"{harmonic_mean(b, n):.2f}"])
    return _tabulate(rows, ["Dataset", "Trainer", "Base", "New", "HM"])


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


def layout_rows(directories):
    """[(label "<dataset> seed<S>", dataset, layout dict)] over the search folders, datasets in the given order.
    The dataset is the folder two levels above the search config (``<dataset>/DPLSearch/<config>``); the config
    is added when one dataset has several."""
    datasets = [_dataset_and_trainer(Path(d))[0] for d in directories]
    rows = []
    for directory, dataset in zip(directories, datasets):
        name = dataset if datasets.count(dataset) == 1 else f"{dataset}/{Path(directory).name}"
        for seed, layout in read_layouts(directory).items():
            rows.append((f"{name} {seed}", name, layout))
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
    print(f"Heatmap of {len(rows)} searched layouts ({groups} dataset{'s' if groups != 1 else ''}) written to {path}")


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
    p.add_argument("--table", nargs="+", metavar="DIR", help="one table: rows datasets, columns trainers")
    p.add_argument("--base2new", metavar="ROOT", help="base / new / HM table from ROOT/{train_base,test_new}")
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
            print(format_table(collect_table(args.table, args.keyword)))
        elif args.base2new:
            print(format_base2new(collect_base2new(args.base2new, args.keyword)))
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

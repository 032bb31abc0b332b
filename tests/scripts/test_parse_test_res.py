"""parse_test_res.py on run folders made here: CoOp's log format and output, results.json first, newest log,
CI95, the dataset x trainer table, base-to-new HM, layout agreement and the exit code on nothing found."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
import parse_test_res as ptr  # noqa: E402


def write_log(run_dir, acc, name="log.txt", signal="Finish training", mtime=None):
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = ["epoch [1/2] batch [1/1] loss 1.0", "* accuracy: 1.0%"]  # before the signal: ignored
    if signal == "Finish training":
        lines.append("Finish training")
    lines += ["=> result", "* total: 100", "* correct: 50", f"* accuracy: {acc}%", f"* error: {100 - acc}%",
              "* macro_f1: 40.0%"]
    if signal == "=> result":
        lines = [line for line in lines if not line.startswith("epoch")]
    path = run_dir / name
    path.write_text("\n".join(lines) + "\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_results(run_dir, acc, **fingerprint):
    """results.json as train.py writes it; ``fingerprint`` given as config keys (``NUM_SHOTS=2``) adds one, with the
    per-seed keys (the seed, a searched layout's hash) taken from the folder name."""
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"accuracy": acc, "error": 100 - acc}
    if fingerprint:
        seed = int(run_dir.name[len("seed"):])
        record["fingerprint"] = {"config.SEED": seed, "layout.sha256": f"{seed:064x}", "code.version": "1",
                                 **{f"config.{k}": v for k, v in fingerprint.items()}}
    (run_dir / "results.json").write_text(json.dumps(record))


def cli(*args):
    return subprocess.run([sys.executable, str(REPO / "parse_test_res.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_both_start_signals_and_coop_summary(tmp_path):
    write_log(tmp_path / "seed1", 70.0, signal="Finish training")
    write_log(tmp_path / "seed2", 72.0, signal="=> result")
    outputs = ptr.parse_dir(tmp_path)
    assert [o["accuracy"] for o in outputs] == [70.0, 72.0]
    proc = cli(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Summary of directory: {tmp_path}" in proc.stdout
    assert "* accuracy: 71.00% +- 1.00%" in proc.stdout  # population std, as CoOp (numpy)
    assert "===" in proc.stdout


def test_unfinished_training_log_is_not_a_result(tmp_path):
    run = tmp_path / "seed1"
    run.mkdir()
    # per-epoch validation block but no "Finish training": still training
    (run / "log.txt").write_text("epoch [1/2] batch [1/1]\n=> result\n* accuracy: 33.0%\n")
    assert ptr.read_run(run) is None


def test_results_json_preferred_over_log(tmp_path):
    run = tmp_path / "seed1"
    write_log(run, 10.0)
    write_results(run, 80.0)
    out = ptr.read_run(run)
    assert out["accuracy"] == 80.0 and out["file"].endswith("results.json")


def test_newest_log_with_a_result_wins(tmp_path):
    run = tmp_path / "seed1"
    write_log(run, 60.0, name="log.txt", mtime=1_000_000)
    write_log(run, 65.0, name="log.txt-2026-01-01-00-00-00", mtime=2_000_000)
    assert ptr.read_run(run)["accuracy"] == 65.0
    # a newer log without a result (an interrupted resume) does not hide the older result
    (run / "log.txt-2026-02-01-00-00-00").write_text("epoch [1/2] batch [1/1]\n")
    os.utime(run / "log.txt-2026-02-01-00-00-00", (3_000_000, 3_000_000))
    assert ptr.read_run(run)["accuracy"] == 65.0


def test_ci95_matches_hand_computation(tmp_path):
    accs = [70.0, 72.0, 77.0]
    for seed, acc in enumerate(accs, 1):
        write_results(tmp_path / f"seed{seed}", acc)
    m = sum(accs) / 3
    sd = math.sqrt(sum((a - m) ** 2 for a in accs) / 3)
    assert ptr.compute_ci95(accs) == pytest.approx(1.96 * sd / math.sqrt(3))
    proc = cli(tmp_path, "--ci95")
    assert f"* accuracy: {m:.2f}% +- {1.96 * sd / math.sqrt(3):.2f}%" in proc.stdout
    assert f"+- {sd:.2f}%" in cli(tmp_path).stdout


def test_keyword_and_multi_exp(tmp_path):
    for exp, acc in (("a", 60.0), ("b", 80.0)):
        write_log(tmp_path / exp / "seed1", acc)
    proc = cli(tmp_path, "--multi-exp", "--keyword", "error")
    assert proc.returncode == 0, proc.stderr
    assert "* error: 40.00%" in proc.stdout and "* error: 20.00%" in proc.stdout
    assert "Average over 2 experiments: * error: 30.00%" in proc.stdout


def test_table_cells_and_average_row(tmp_path):
    cells = {("caltech101", "CoOp"): [90.0, 92.0], ("caltech101", "DPL"): [95.0, 95.0, 95.0],
             ("dtd", "CoOp"): [60.0], ("dtd", "DPL"): [70.0, 72.0]}
    for (dataset, trainer), accs in cells.items():
        for seed, acc in enumerate(accs, 1):
            write_results(tmp_path / dataset / trainer / "cfg_16shots" / f"seed{seed}", acc)
    write_results(tmp_path / "dtd" / "DPLSearch" / "search_16shots" / "seed1", 10.0)  # not a trained model
    proc = cli("--table", tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "Dataset" in line)
    assert header.index("CoOp") < header.index("DPL") and "DPLSearch" not in header
    cal = next(line for line in lines if "caltech101" in line)
    assert f"91.00 ± {ptr.compute_ci95([90.0, 92.0]):.2f} (2)" in cal and "95.00 ± 0.00 (3)" in cal
    avg = next(line for line in lines if "Average" in line)
    assert "75.50" in avg and "83.00" in avg  # (91+60)/2, (95+71)/2


def test_table_labels_configs_when_a_trainer_has_several(tmp_path):
    write_results(tmp_path / "dtd" / "IVLP" / "a_16shots" / "seed1", 50.0)
    write_results(tmp_path / "dtd" / "IVLP" / "b_16shots" / "seed1", 60.0)
    tables = ptr.collect_table([tmp_path])
    assert set(tables[("few-shot", 16)]) == {("dtd", "IVLP/a_16shots"), ("dtd", "IVLP/b_16shots")}


def test_base2new_harmonic_mean(tmp_path):
    root = tmp_path / "base2new"
    for dataset, base, new in (("dtd", [80.0, 82.0], [50.0, 52.0]), ("eurosat", [90.0], [60.0])):
        for split, accs in (("train_base", base), ("test_new", new)):
            for seed, acc in enumerate(accs, 1):
                write_results(root / split / dataset / "shots_16" / "DPL" / "vit_b16_ep40" / f"seed{seed}", acc)
    assert ptr.harmonic_mean(81.0, 51.0) == pytest.approx(2 * 81 * 51 / 132)
    proc = cli("--base2new", tmp_path / "base2new")
    assert proc.returncode == 0, proc.stderr
    dtd = next(line for line in proc.stdout.splitlines() if line.startswith("| dtd"))
    assert f"{2 * 81 * 51 / 132:.2f}" in dtd
    avg = next(line for line in proc.stdout.splitlines() if "Average" in line)
    b, n = (81 + 90) / 2, (51 + 60) / 2
    assert f"{b:.2f}" in avg and f"{n:.2f}" in avg and f"{2 * b * n / (b + n):.2f}" in avg
    # ROOT may also be the output folder above base2new/
    assert cli("--base2new", tmp_path).returncode == 0


def test_layout_agreement(tmp_path):
    layouts = {1: ([2, 0, 1], [3, 3]), 2: ([2, 0, 4], [3, 0]), 3: ([5, 0, 1], [3, 3])}
    for seed, (vision, text) in layouts.items():
        run = tmp_path / f"seed{seed}"
        run.mkdir()
        (run / "layout.json").write_text(json.dumps({"vision": vision, "text": text, "max_length": 6}))
    info = ptr.layout_agreement(ptr.read_layouts(tmp_path))
    assert info["vision"]["majority"] == [2, 0, 1]
    assert info["vision"]["agreement"] == pytest.approx([2 / 3, 1.0, 2 / 3])
    assert info["vision"]["mean_agreement"] == pytest.approx(7 / 9)
    assert info["text"]["zero_layers"] == {"seed1": 0, "seed2": 1, "seed3": 0}
    proc = cli("--layouts", tmp_path)
    assert proc.returncode == 0 and "mean 0.78" in proc.stdout
    assert "mean agreement over all layers: 0.80" in proc.stdout  # (2/3+1+2/3+1+2/3)/5


@pytest.mark.parametrize("mode", [[], ["--table"], ["--base2new"], ["--layouts"]])
def test_empty_or_missing_dir_exits_1(tmp_path, mode):
    (tmp_path / "seed1").mkdir()  # a seed folder without any result
    for target in (tmp_path, tmp_path / "missing"):
        proc = cli(*mode, target)
        assert proc.returncode == 1, proc.stdout
        assert str(target) in proc.stderr and "Traceback" not in proc.stderr


def test_parent_folder_points_to_multi_exp_or_table(tmp_path):
    write_results(tmp_path / "cfg_16shots" / "seed1", 50.0)
    proc = cli(tmp_path)
    assert proc.returncode == 1 and "--multi-exp or --table" in proc.stderr


def _write_search(root, dataset, seeds):
    """``root/<dataset>/DPLSearch/search_4shots/seed<S>/layout.json`` for ``seeds``: {seed: (vision, text)}."""
    exp = root / dataset / "DPLSearch" / "search_4shots"
    for seed, (vision, text) in seeds.items():
        (exp / f"seed{seed}").mkdir(parents=True)
        (exp / f"seed{seed}" / "layout.json").write_text(json.dumps({"vision": vision, "text": text, "max_length": 6}))
    return exp


def test_layout_heatmap_over_datasets_and_seeds(tmp_path):
    """--layouts over several search folders (or a root holding them) and --plot FILE: one PNG, one row per
    dataset and seed, one column per layer, vision and text side by side."""
    from PIL import Image

    caltech = _write_search(tmp_path, "caltech101", {1: ([2, 0, 1, 6], [3, 3]), 2: ([2, 0, 4, 6], [3, 0])})
    dtd = _write_search(tmp_path, "dtd", {1: ([0, 0, 5, 1], [6, 1])})
    rows = ptr.layout_rows([caltech, dtd])
    assert [r[0] for r in rows] == ["caltech101, few-shot, 4 shots, seed1", "caltech101, few-shot, 4 shots, seed2",
                                    "dtd, few-shot, 4 shots, seed1"]
    assert ptr.layout_matrix(rows, "vision") == [[2, 0, 1, 6], [2, 0, 4, 6], [0, 0, 5, 1]]
    assert ptr.layout_matrix(rows, "text") == [[3, 3], [3, 0], [6, 1]]
    png = tmp_path / "plots" / "layouts.png"
    proc = cli("--layouts", tmp_path, "--plot", png)  # the root: every search folder under it
    assert proc.returncode == 0, proc.stderr
    assert f"Layouts in {caltech}" in proc.stdout and f"Layouts in {dtd}" in proc.stdout
    assert f"Heatmap of 3 searched layouts (2 searches) written to {png}" in proc.stdout
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 150
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 7  # the cells have the colours of several lengths


def test_layouts_of_different_depths_pad_with_empty_cells(tmp_path):
    a = _write_search(tmp_path, "a", {1: ([1, 2], [3])})
    b = _write_search(tmp_path, "b", {1: ([1, 2, 3], [4, 5])})
    rows = ptr.layout_rows([a, b])
    vision = ptr.layout_matrix(rows, "vision")
    assert vision[1] == [1, 2, 3] and vision[0][:2] == [1, 2] and math.isnan(vision[0][2])


def test_plot_needs_layouts(tmp_path):
    proc = cli(tmp_path, "--plot", tmp_path / "x.png")
    assert proc.returncode == 2 and "--plot draws the layouts of --layouts" in proc.stderr


def test_every_plus_minus_printed_says_what_it_is(tmp_path):
    for seed, acc in enumerate([70.0, 72.0, 77.0], 1):
        write_results(tmp_path / "caltech101" / "DPL" / "cfg_16shots" / f"seed{seed}", acc)
        write_results(tmp_path / "base2new" / "train_base" / "dtd" / "shots_16" / "DPL" / "cfg" / f"seed{seed}", acc)
        write_results(tmp_path / "base2new" / "test_new" / "dtd" / "shots_16" / "DPL" / "cfg" / f"seed{seed}", acc)
    exp = tmp_path / "caltech101" / "DPL" / "cfg_16shots"
    assert "% (95% CI over 3 seeds)" in cli(exp, "--ci95").stdout
    assert "% (std over 3 seeds)" in cli(exp).stdout
    for args in (["--table", tmp_path / "caltech101"], ["--base2new", tmp_path / "base2new"]):
        out = cli(*args).stdout
        assert "±" in out and "± = 95% confidence interval over seeds" in out, args


# ---- a number is the configuration asked for, or visibly marked (issues 17 item 6, 21 item 1) ---------------------
def test_seeds_of_different_configurations_are_never_averaged(tmp_path):
    """A 16-shot seed folder copied beside two 2-shot seeds: the summary refuses naming the seeds and the key, the
    table marks the cell without a number; seeds that differ only by seed (and searched layout) are averaged."""
    exp = tmp_path / "caltech101" / "DPL" / "cfg_2shots"
    write_results(exp / "seed1", 70.0, NUM_SHOTS=2)
    write_results(exp / "seed2", 72.0, NUM_SHOTS=2)
    assert [o["accuracy"] for o in ptr.parse_dir(exp)] == [70.0, 72.0]
    write_results(exp / "seed3", 90.0, NUM_SHOTS=16)
    proc = cli(exp)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "different configurations" in proc.stderr and "seed3" in proc.stderr and "NUM_SHOTS 2 vs 16" in proc.stderr
    assert "Summary" not in proc.stdout
    table = cli("--table", tmp_path)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("| caltech101"))
    assert "mixed configurations [1]" in row and "77.33" not in row and "71.00" not in row
    assert "[1] caltech101 / DPL: seeds of different configurations" in table.stdout
    assert "NUM_SHOTS 2 vs 16" in table.stdout


def test_a_fingerprinted_seed_beside_one_without_is_marked(tmp_path):
    exp = tmp_path / "dtd" / "CoOp" / "cfg_4shots"
    write_results(exp / "seed1", 60.0, NUM_SHOTS=4)
    write_results(exp / "seed2", 62.0)
    row = next(line for line in cli("--table", tmp_path).stdout.splitlines() if line.startswith("| dtd"))
    assert "mixed configurations" in row and "61.00" not in row


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "150", "-1"])
def test_impossible_accuracy_is_left_out_and_named(tmp_path, bad):
    exp = tmp_path / "dtd" / "DPL" / "cfg_16shots"
    write_results(exp / "seed1", 70.0)
    write_results(exp / "seed2", 72.0)
    (exp / "seed3").mkdir()
    (exp / "seed3" / "results.json").write_text('{"accuracy": %s}' % bad)
    assert [o["accuracy"] for o in ptr.parse_dir(exp)] == [70.0, 72.0]
    proc = cli(exp)
    assert proc.returncode == 0, proc.stderr
    assert "(left out) seed3: accuracy" in proc.stdout
    assert "* accuracy: 71.00% +- 1.00% (std over 2 seeds)" in proc.stdout
    table = cli("--table", tmp_path).stdout
    row = next(line for line in table.splitlines() if line.startswith("| dtd"))
    assert "71.00 ± " in row and "(2) [1]" in row
    assert "[1] dtd / DPL: seed3: accuracy" in table


def test_a_seed_without_result_yet_is_noted(tmp_path):
    exp = tmp_path / "dtd" / "DPL" / "cfg_16shots"
    write_results(exp / "seed1", 70.0)
    write_results(exp / "seed2", 72.0)
    (exp / "seed3").mkdir()
    (exp / "seed3" / "log.txt").write_text("epoch [1/2] batch [1/1]\n")  # still training
    table = cli("--table", tmp_path).stdout
    assert "(2) [1]" in table and "[1] dtd / DPL: seed3: no result yet" in table
    assert "(left out) seed3: no result yet" in cli(exp).stdout


def test_one_seed_shows_no_interval(tmp_path):
    exp = tmp_path / "dtd" / "DPL" / "cfg_16shots"
    write_results(exp / "seed1", 70.0)
    table = cli("--table", tmp_path).stdout
    row = next(line for line in table.splitlines() if line.startswith("| dtd"))
    assert "70.00 (1 seed)" in row and "±" not in row
    summary = cli(exp).stdout
    assert "* accuracy: 70.00% (1 seed, no interval)" in summary and "+-" not in summary


def test_table_keeps_protocols_and_shot_counts_apart(tmp_path):
    """Few-shot runs at 2 and 16 shots, base-to-new train_base and cross-dataset runs under one output: one table
    each, the first header naming the protocol and the shot count."""
    write_results(tmp_path / "dtd" / "DPL" / "cfg_2shots" / "seed1", 50.0)
    write_results(tmp_path / "dtd" / "DPL" / "cfg_16shots" / "seed1", 60.0)
    write_results(tmp_path / "base2new" / "train_base" / "dtd" / "shots_16" / "DPL" / "cfg" / "seed1", 80.0)
    write_results(tmp_path / "xd" / "test" / "dtd" / "shots_16" / "DPL" / "cfg" / "seed1", 40.0)
    out = cli("--table", tmp_path).stdout
    headers = [line for line in out.splitlines() if line.startswith("| Dataset")]
    assert [h.split("|")[1].strip() for h in headers] == [
        "Dataset (few-shot, 2 shots)", "Dataset (few-shot, 16 shots)", "Dataset (base-to-new, base classes, 16 shots)",
        "Dataset (cross-dataset, target, 16 shots)"]
    assert all(h.split("|")[2].strip() == "DPL" and h.count("|") == 3 for h in headers)  # no extra column


def test_refused_seeds_are_marked_not_shown(tmp_path):
    """The sweep's case: an old run in a folder the asked configuration was refused from is never printed as a
    plain number."""
    exp = tmp_path / "dtd" / "DPL" / "cfg_16shots"
    write_results(exp / "seed1", 70.0, MAX_EPOCH=1)
    out = cli("--table", tmp_path, "--refused", exp / "seed1").stdout
    row = next(line for line in out.splitlines() if line.startswith("| dtd"))
    assert "70.00" not in row and "refused [1]" in row
    assert "[1] dtd / DPL: seed1: holds another configuration's run (refused)" in out
    b2n = tmp_path / "base2new" / "train_base" / "dtd" / "shots_16" / "DPL" / "cfg"
    write_results(b2n / "seed1", 80.0)
    out = cli("--base2new", tmp_path / "base2new", "--refused", b2n / "seed1").stdout
    assert "80.00" not in out and "refused" in out and "(base-to-new, 16 shots)" in out


def _write_search_at(exp, seeds, depth=12, text_depth=12):
    for seed in seeds:
        (exp / f"seed{seed}").mkdir(parents=True)
        vision = [(seed + layer) % 7 for layer in range(depth)]
        text = [(2 * seed + layer) % 7 for layer in range(text_depth)]
        (exp / f"seed{seed}" / "layout.json").write_text(json.dumps({"vision": vision, "text": text, "max_length": 6}))


def test_layout_heatmap_is_paper_ready(tmp_path):
    """3 datasets x 2 protocols (few-shot, base-to-new searches) x 3 seeds: each row label names dataset, protocol,
    shots and seed, and every text of the figure (labels, titles, colorbar) lies inside the image without the
    figure title overlapping a panel title (issue 21 item 5)."""
    import matplotlib

    matplotlib.use("Agg")
    from dpl.search.plot import layout_heatmap_figure

    for dataset in ("caltech101", "oxford_flowers", "fgvc_aircraft"):
        _write_search_at(tmp_path / dataset / "DPLSearch" / "search_16shots", (1, 2, 3))
        base2new = tmp_path / "base2new" / "search_base" / dataset / "shots_16"
        _write_search_at(base2new / "DPLSearch" / "search", (1, 2, 3))
    rows = ptr.layout_rows(ptr.search_dirs([tmp_path]))
    labels = [label for label, _, _ in rows]
    assert len(labels) == 18 and len(set(labels)) == 18
    assert "oxford_flowers, few-shot, 16 shots, seed2" in labels
    assert "oxford_flowers, base-to-new, 16 shots, seed2" in labels

    matrices = {b: ptr.layout_matrix(rows, b) for b in ("vision", "text")}
    fig = layout_heatmap_figure(labels, [g for _, g, _ in rows], matrices, 6)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
    shown = {t.get_text() for t in texts}
    assert set(labels) <= shown and {"vision", "text", "layer"} <= shown
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert (extent.x0 >= box.x0 - 0.5 and extent.y0 >= box.y0 - 0.5 and extent.x1 <= box.x1 + 0.5
                and extent.y1 <= box.y1 + 0.5), f"{text.get_text()!r} is cut off: {extent} outside {box}"
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        panel = ax.title.get_window_extent(renderer)
        if ax.title.get_text():
            assert not title.overlaps(panel), f"the figure title overlaps the panel title {ax.title.get_text()!r}"
    tick_labels = [t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert not any(a.overlaps(b) for a, b in zip(tick_labels, tick_labels[1:])), "row labels overlap"
    width, height = fig.get_size_inches() * fig.dpi
    assert width >= 1000 and height >= 500  # readable when scaled to a paper column
    matplotlib.pyplot.close(fig)

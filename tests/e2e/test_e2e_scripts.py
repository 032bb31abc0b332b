"""The protocol scripts end to end on the Demo dataset with tiny-random: search -> train -> test -> table,
skipping finished steps on a re-run; TRAINER swaps the method; compare.sh runs every trainer on the searched layout
into one table; base-to-new gives the base/new/HM table."""
import json
import re

import pytest

from e2e_helpers import run_script


@pytest.fixture(scope="module")
def script_env(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("output")
    return {"DATA": str(data_root), "OUTPUT": str(out), "BACKBONE": "tiny-random", "SEEDS": "1",
            "OPTS": "OPTIM.MAX_EPOCH 1 DATALOADER.NUM_WORKERS 0 DATALOADER.TEST.BATCH_SIZE 16"}


@pytest.fixture(scope="module")
def dpl_main(script_env):
    return run_script("main.sh", "demo", 2, env=script_env)


def test_main_searches_trains_tests_and_prints_the_table(dpl_main, script_env):
    from pathlib import Path
    out = Path(script_env["OUTPUT"])
    search = next(out.glob("demo/DPLSearch/search_tiny_random_2shots*/seed1"))
    layout = json.loads((search / "layout.json").read_text())
    assert set(layout) >= {"vision", "text", "max_length", "confidence"}
    assert (search / "layout.png").stat().st_size > 0
    train = next(out.glob("demo/DPL/tiny_random_ep1_2shots*/seed1"))
    assert "=> result" in (train / "log.txt").read_text()
    assert json.loads((train / "results.json").read_text())["layout"].endswith("layout.json")
    # one seed: a mean with no interval, never a "± 0.00" that reads like one
    assert re.search(r"\* accuracy: \d+\.\d\d% \(1 seed, no interval\)", dpl_main.stdout), dpl_main.stdout


def test_rerun_skips_every_finished_step(dpl_main, script_env):
    from pathlib import Path
    out = Path(script_env["OUTPUT"])
    logs_before = sorted(str(p) for p in out.rglob("log.txt*"))
    again = run_script("main.sh", "demo", 2, env=script_env)
    assert sorted(str(p) for p in out.rglob("log.txt*")) == logs_before
    assert "skip" in again.stdout.lower()


def test_trainer_coop_on_the_same_command(dpl_main, script_env):
    from pathlib import Path
    run_script("main.sh", "demo", 2, env={**script_env, "TRAINER": "CoOp"})
    out = Path(script_env["OUTPUT"])
    run = next(out.glob("demo/CoOp/*_2shots*/seed1"))
    assert (run / "results.json").is_file()


def test_fixed_runs_the_corrected_configs_beside_the_official_ones(dpl_main, script_env):
    """FIXED=1: the ablation "official quirks vs fixed" with one flag; both sets of folders coexist."""
    from pathlib import Path
    out = Path(script_env["OUTPUT"])
    fixed = run_script("main.sh", "demo", 2, env={**script_env, "FIXED": "1"})
    # OPTS (MAX_EPOCH 1, TEST.BATCH_SIZE 16) name the folders: ep40 becomes ep1, the batch size a suffix
    search = out / "demo/DPLSearch/search_fixed_tiny_random_2shots_batchsize16_ep1/seed1"
    train = out / "demo/DPL/tiny_random_ep1_fixed_2shots_batchsize16/seed1"
    assert (search / "layout.json").is_file() and (train / "results.json").is_file()
    log = (train / "log.txt").read_text()
    assert "CTX_INIT: ensemble_aligned" in log and "KD_REDUCTION: batchmean" in log
    search_log = (search / "log.txt").read_text()
    assert "normal initialisation" in search_log and "validation batches in turn" in search_log
    assert (out / "demo/DPLSearch/search_tiny_random_2shots_batchsize16_ep1/seed1/layout.json").is_file()  # the official run is untouched
    assert "skip" not in fixed.stdout.lower()


def test_base_to_new_train_test_and_table(script_env, tmp_path):
    import subprocess
    import sys
    from e2e_helpers import REPO

    env = {**script_env, "OUTPUT": str(tmp_path), "SHOTS": "2"}
    run_script("base2new_train.sh", "demo", 1, env=env)
    run_script("base2new_test.sh", "demo", 1, env=env)
    new = next(tmp_path.glob("base2new/test_new/demo/shots_2/DPL/*/seed1"))
    assert json.loads((new / "results.json").read_text())["layout"].endswith("layout.json")
    table = subprocess.run([sys.executable, str(REPO / "parse_test_res.py"), "--base2new", str(tmp_path / "base2new")],
                           capture_output=True, text=True, check=True).stdout
    assert "HM" in table and "demo" in table.lower()


def test_compare_runs_every_trainer_on_the_searched_layout_and_prints_one_table(dpl_main, script_env):
    trainers = ["ZeroshotCLIP", "CoOp", "CoCoOp", "IVLP", "VPT", "MaPLe", "PromptSRC", "DPL"]
    proc = run_script("compare.sh", " ".join(trainers), "demo", 2, env=script_env)
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| Dataset"))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == trainers
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| demo"))
    assert row.count("(1 seed)") == len(trainers)  # one seed in every cell, shown without an interval


def test_custom_data_through_the_scripts_and_another_folder_is_never_reported_as_the_first(script_env, tmp_path):
    """README's custom-data recipe: class folders, a dataset yaml of one's own in CONFIG_ROOT (trainer configs come
    from the repository), DATASET.FOLDER in OPTS. A second folder in the same run folder is refused, not skipped."""
    from dpl.testing.fake_datasets import make_fake_dataset

    first, second = make_fake_dataset("CustomFolder", tmp_path / "a"), make_fake_dataset("CustomFolder", tmp_path / "b")
    (tmp_path / "my_configs" / "datasets").mkdir(parents=True)
    (tmp_path / "my_configs" / "datasets" / "mine.yaml").write_text("DATASET:\n  NAME: CustomFolder\n")
    env = {**script_env, "OUTPUT": str(tmp_path / "out"), "TRAINER": "CoOp", "CONFIG_ROOT": str(tmp_path / "my_configs")}
    run_script("main.sh", "mine", 2, env={**env, "OPTS": f"{script_env['OPTS']} DATASET.FOLDER {first}"})
    results = next((tmp_path / "out").glob("mine/CoOp/*/seed1/results.json"))
    before = results.read_bytes()
    proc = run_script("main.sh", "mine", 2, env={**env, "OPTS": f"{script_env['OPTS']} DATASET.FOLDER {second}"},
                      check=False)
    assert proc.returncode == 2 and "skip" not in proc.stdout
    assert "DATASET.FOLDER" in proc.stderr and str(second) in proc.stderr
    assert results.read_bytes() == before
